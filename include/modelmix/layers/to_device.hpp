#pragma once
// Moving a network between devices: every parameter (value and gradient) and every buffer
// (BatchNorm running statistics) goes to `where`, in place. Parameters stay the same objects,
// so optimizers and mix plans built on them keep pointing at them — but an optimizer's state
// is allocated where its parameters were at construction: move a network before building its
// optimizer (method::Trainer does).
//
//   layers::to_device(net, device::cuda);   // the whole forward/backward then runs there
//   device where = layers::device_of(net);  // where its parameters are (all must agree)
#include <string>

#include "modelmix/core/device.hpp"
#include "modelmix/layers/traversal.hpp"

namespace modelmix::layers {

template <class Net>
void to_device(Net& net, device where) {
  using T = typename Net::value_type;
  for_each_parameter(net, [&](const std::string&, Parameter<T>& p) { p.to(where); });
  for_each_buffer(net, [&](const std::string&, Tensor<T>& b) {
    if (b.where() != where) b = b.to(where);
  });
}

// The device of a network's parameters and buffers; a network split across devices is an
// error naming the first tensor elsewhere. A network without parameters is on the CPU.
template <class Net>
[[nodiscard]] device device_of(Net& net) {
  using T = typename Net::value_type;
  bool first = true;
  device where = device::cpu;
  const auto check = [&](const std::string& name, const Tensor<T>& t) {
    if (first) where = t.where();
    first = false;
    MODELMIX_REQUIRE(t.where() == where, "network: '", name, "' is on ", t.where(), " but the tensors before it on ",
                     where, "; move the whole network with layers::to_device");
  };
  for_each_parameter(net, [&](const std::string& name, Parameter<T>& p) {
    check(name, p.value);
    check(name + " (gradient)", p.grad);
  });
  for_each_buffer(net, [&](const std::string& name, Tensor<T>& b) { check(name, b); });
  return where;
}

}  // namespace modelmix::layers
