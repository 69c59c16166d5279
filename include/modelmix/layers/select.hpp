#pragma once
// Selectors: which layers of a network-level mix are mixed.
//
// A selector receives the paths of the host's Mixable leaves (traversal order) and returns
// the ones to mix. Choosing nothing is an error, so a typo never silently yields the host.
//
//   select::path("encoder.block1.conv1")     exactly this layer
//   select::predicate(fn)                    every mixable layer whose path satisfies fn
//   select::all()                            every mixable layer
//   select::random_one(fn, seed)             one layer drawn uniformly among those satisfying
//                                            fn, from mt19937_64(seed) — the same on every
//                                            platform (MixedNetwork::mixed_paths() says which)
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "modelmix/core/error.hpp"

namespace modelmix::layers::select {

using path_predicate = std::function<bool(const std::string&)>;

struct selector {
  std::string description;  // for error messages
  std::function<std::vector<std::string>(const std::vector<std::string>& mixable)> choose;
};

namespace detail {
inline std::string list(const std::vector<std::string>& paths) {
  std::string s;
  for (const auto& p : paths) s += (s.empty() ? "" : ", ") + p;
  return s.empty() ? "none" : s;
}
inline std::vector<std::string> filter(const std::vector<std::string>& paths, const path_predicate& keep) {
  std::vector<std::string> out;
  for (const auto& p : paths)
    if (keep(p)) out.push_back(p);
  return out;
}
}  // namespace detail

inline selector path(std::string p) {
  return {cat("path(\"", p, "\")"), [p](const std::vector<std::string>& mixable) {
            for (const auto& m : mixable)
              if (m == p) return std::vector<std::string>{p};
            throw error(cat("select::path: \"", p, "\" is not a mixable layer; mixable layers: ", detail::list(mixable)));
          }};
}

inline selector predicate(path_predicate keep) {
  return {"predicate", [keep = std::move(keep)](const std::vector<std::string>& mixable) {
            auto out = detail::filter(mixable, keep);
            MODELMIX_REQUIRE(!out.empty(), "select::predicate: no mixable layer satisfies the predicate; mixable layers: ",
                             detail::list(mixable));
            return out;
          }};
}

inline selector all() {
  return {"all", [](const std::vector<std::string>& mixable) {
            MODELMIX_REQUIRE(!mixable.empty(), "select::all: the network has no mixable layer");
            return mixable;
          }};
}

inline selector random_one(path_predicate candidates, std::uint64_t seed) {
  return {cat("random_one(seed=", seed, ")"), [keep = std::move(candidates), seed](const std::vector<std::string>& mixable) {
            auto pool = detail::filter(mixable, keep);
            MODELMIX_REQUIRE(!pool.empty(), "select::random_one: no mixable layer satisfies the candidate predicate; ",
                             "mixable layers: ", detail::list(mixable));
            std::mt19937_64 rng(seed);
            return std::vector<std::string>{pool[rng() % pool.size()]};
          }};
}

}  // namespace modelmix::layers::select
