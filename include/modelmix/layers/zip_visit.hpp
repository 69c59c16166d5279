#pragma once
// zip_visit: walk networks of one type side by side, leaf by leaf.
//
//   zip_visit(a, b, [](const std::string& path, auto& la, auto& lb) { ... });
//   zip_visit(std::span<Net* const> nets, [](const std::string& path, auto parents) { ... });
//                                         // parents: std::span<L* const>, nets[0]'s leaf first
//
// Checked before f sees a leaf: every network has the same leaves at the same paths with the
// same types, and the same parameter names and shapes (errors name the parameter path and both
// shapes). A network's structure may be decided at run time (e.g. depth), so "same type" alone
// does not guarantee this.
#include <span>
#include <string>
#include <typeinfo>
#include <vector>

#include "modelmix/layers/mixed_layer.hpp"
#include "modelmix/layers/traversal.hpp"

namespace modelmix::layers {

template <class Net, class F>
void zip_visit(std::span<Net* const> nets, F&& f) {
  MODELMIX_REQUIRE(!nets.empty(), "zip_visit: no networks given");
  struct leaf_ref {
    std::string path;
    void* layer;
    const std::type_info* type;
  };
  std::vector<std::vector<leaf_ref>> others(nets.size());
  for (std::size_t k = 1; k < nets.size(); ++k)
    for_each_layer(*nets[k], [&](const std::string& path, auto& leaf) {
      others[k].push_back({path, static_cast<void*>(&leaf), &typeid(leaf)});
    });

  std::size_t index = 0;
  for_each_layer(*nets[0], [&](const std::string& path, auto& leaf) {
    using L = std::remove_reference_t<decltype(leaf)>;
    std::vector<L*> group{&leaf};
    for (std::size_t k = 1; k < nets.size(); ++k) {
      MODELMIX_REQUIRE(index < others[k].size(), "zip_visit: network ", k, " has no layer at ", path, " (it has ",
                       others[k].size(), " layers)");
      const leaf_ref& other = others[k][index];
      MODELMIX_REQUIRE(other.path == path, "zip_visit: layer ", index, " is ", path, " in network 0 but ", other.path,
                       " in network ", k);
      MODELMIX_REQUIRE(*other.type == typeid(L), "zip_visit: ", path, " has type ", typeid(L).name(),
                       " in network 0 but ", other.type->name(), " in network ", k);
      L* partner = static_cast<L*>(other.layer);
      check_mix_partner(leaf, *partner, path);
      group.push_back(partner);
    }
    ++index;
    f(path, std::span<L* const>(group));
  });
  for (std::size_t k = 1; k < nets.size(); ++k)
    MODELMIX_REQUIRE(others[k].size() == index, "zip_visit: network ", k, " has ", others[k].size(),
                     " layers but network 0 has ", index);
}

template <class Net, class F>
void zip_visit(Net& a, Net& b, F&& f) {
  Net* nets[] = {&a, &b};
  zip_visit(std::span<Net* const>(nets),
            [&](const std::string& path, auto group) { f(path, *group[0], *group[1]); });
}

}  // namespace modelmix::layers
