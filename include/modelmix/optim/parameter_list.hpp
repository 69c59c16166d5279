#pragma once
// The parameters an optimizer updates, each with its dotted path (encoder.block1.conv1.weight),
// the name its state is saved under in checkpoints.
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "modelmix/autograd/parameter.hpp"
#include "modelmix/core/error.hpp"

namespace modelmix::optim {

template <class T>
using named_parameters = std::vector<std::pair<std::string, Parameter<T>*>>;

namespace detail {
template <class T>
void check_parameter_list(const char* optimizer, const named_parameters<T>& params) {
  std::set<std::string> seen;
  for (const auto& [name, p] : params) {
    MODELMIX_REQUIRE(!name.empty(), optimizer, ": a parameter has an empty name");
    MODELMIX_REQUIRE(p != nullptr, optimizer, ": parameter '", name, "' is a null pointer");
    MODELMIX_REQUIRE(seen.insert(name).second, optimizer, ": parameter name '", name, "' appears twice");
    MODELMIX_REQUIRE(p->grad.shape() == p->value.shape(), optimizer, ": parameter '", name, "' has value shape ",
                     p->value.shape(), " but gradient shape ", p->grad.shape());
  }
}
}  // namespace detail

}  // namespace modelmix::optim
