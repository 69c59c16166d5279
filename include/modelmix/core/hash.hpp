#pragma once
// splitmix64's finaliser: a bijection on 64 bits whose outputs for consecutive inputs are
// uncorrelated. Every derived seed and counter-based random number in the library (dropout
// masks, per-step and per-layer streams) goes through it, so results are the same on every
// platform and independent of thread timing.
#include <cstdint>

#include "modelmix/core/config.hpp"

namespace modelmix {

[[nodiscard]] MODELMIX_HOST_DEVICE constexpr std::uint64_t splitmix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace modelmix
