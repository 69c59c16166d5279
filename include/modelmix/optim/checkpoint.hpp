#pragma once
// Optimizer state inside a safetensors checkpoint, next to the model's weights:
//
//   "<prefix>.step"                      I64 scalar (shape []), steps taken
//   "<prefix>.<kind>.<buffer>.<param>"   e.g. optim.adam.exp_avg.encoder.block1.conv1.weight
//   metadata "<prefix>.kind"             "adam" / "sgd"
//
// The default prefix is "optim"; give another to keep several optimizers in one file.
// Buffers are stored in the optimizer's element type and converted on load, so a float
// run can resume into a double one. Buffers on a CUDA device are copied to the host to be
// stored; load_state puts them back on each parameter's device (cpu or cuda).
#include <cstdint>
#include <string>

#include "modelmix/io/safetensors.hpp"
#include "modelmix/optim/optimizer_state.hpp"

namespace modelmix::optim {

template <class T>
void store_state(io::tensor_archive& archive, const optimizer_state<T>& state, const std::string& prefix = "optim") {
  archive.put(prefix + ".step", Tensor<std::int64_t>(Shape{}, state.step));
  archive.metadata[prefix + ".kind"] = state.kind;
  for (const auto& [key, buffer] : state.buffers) archive.put(cat(prefix, ".", state.kind, ".", key), buffer.to_host());
}

template <class T>
[[nodiscard]] optimizer_state<T> restore_state(const io::tensor_archive& archive, const std::string& kind,
                                               const std::string& prefix = "optim") {
  if (auto it = archive.metadata.find(prefix + ".kind"); it != archive.metadata.end())
    MODELMIX_REQUIRE(it->second == kind, "restore_state: the checkpoint holds '", it->second,
                     "' optimizer state under '", prefix, "', not '", kind, "'");
  const std::string step_name = prefix + ".step";
  MODELMIX_REQUIRE(archive.contains(step_name), "restore_state: the checkpoint has no '", step_name, "'");
  const Tensor<std::int64_t>& step = archive.get<std::int64_t>(step_name);
  MODELMIX_REQUIRE(step.numel() == 1, "restore_state: '", step_name, "' has shape ", step.shape(), ", expected []");

  optimizer_state<T> state{kind, step[0], {}};
  const std::string buffers = cat(prefix, ".", kind, ".");
  for (auto it = archive.tensors.lower_bound(buffers);
       it != archive.tensors.end() && it->first.compare(0, buffers.size(), buffers) == 0; ++it)
    state.buffers.emplace(it->first.substr(buffers.size()), archive.get_as<T>(it->first));
  return state;
}

// Convenience for Sgd / Adam (anything with kind, state() and load_state()).
template <class Optimizer>
void save_optimizer(io::tensor_archive& archive, const Optimizer& optimizer, const std::string& prefix = "optim") {
  store_state(archive, optimizer.state(), prefix);
}

template <template <class> class Optimizer, class T>
void load_optimizer(const io::tensor_archive& archive, Optimizer<T>& optimizer, const std::string& prefix = "optim") {
  optimizer.load_state(restore_state<T>(archive, Optimizer<T>::kind, prefix));
}

}  // namespace modelmix::optim
