#pragma once
// What an optimizer needs to resume exactly: its kind, the number of steps taken, and its
// per-parameter buffers keyed "<buffer>.<parameter name>" (exp_avg.encoder.block1.conv1.weight).
// optim/checkpoint.hpp stores this in a safetensors archive under "optim.<kind>.<key>".
// The buffers are wherever the optimizer keeps them (a CUDA device for device parameters);
// load_state puts each on its parameter's device, so state moves freely between devices.
#include <cstdint>
#include <map>
#include <string>

#include "modelmix/core/error.hpp"
#include "modelmix/optim/parameter_list.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::optim {

template <class T>
struct optimizer_state {
  std::string kind;  // "sgd", "adam"
  std::int64_t step = 0;
  std::map<std::string, Tensor<T>> buffers;
};

namespace detail {
// An optimizer's buffer lives on its parameter's device: one made before the parameter moved
// (Parameter::to) follows it on the next step.
template <class T>
void follow(Tensor<T>& buffer, device where) {
  if (buffer.where() != where) buffer = buffer.to(where);
}

// Checks `state` against an optimizer of `kind` over `params` with the listed buffer names:
// every "<buffer>.<parameter>" present with the parameter's shape, nothing else.
template <class T>
void check_state(const char* optimizer, const optimizer_state<T>& state, const std::string& kind,
                 const named_parameters<T>& params, std::initializer_list<const char*> buffer_names) {
  MODELMIX_REQUIRE(state.kind == kind, optimizer, ": cannot load state of a '", state.kind, "' optimizer into '",
                   kind, "'");
  MODELMIX_REQUIRE(state.step >= 0, optimizer, ": negative step count ", state.step, " in the state");
  std::size_t expected = 0;
  for (const char* buffer : buffer_names)
    for (const auto& [name, p] : params) {
      const std::string key = cat(buffer, ".", name);
      auto it = state.buffers.find(key);
      MODELMIX_REQUIRE(it != state.buffers.end(), optimizer, ": the state has no buffer '", key, "'");
      MODELMIX_REQUIRE(it->second.shape() == p->value.shape(), optimizer, ": buffer '", key, "' has shape ",
                       it->second.shape(), ", parameter '", name, "' has shape ", p->value.shape());
      ++expected;
    }
  if (state.buffers.size() != expected)
    for (const auto& [key, value] : state.buffers) {
      bool known = false;
      for (const char* buffer : buffer_names)
        for (const auto& entry : params) known = known || key == cat(buffer, ".", entry.first);
      MODELMIX_REQUIRE(known, optimizer, ": the state has a buffer '", key, "' that matches no parameter");
    }
}
}  // namespace detail

}  // namespace modelmix::optim
