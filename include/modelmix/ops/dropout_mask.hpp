#pragma once
// Which units dropout keeps: one definition for the CPU loop (ops/cpu/dropout.hpp) and the CUDA
// kernel (ops/cuda/dropout.cuh), so a seeded run drops the same units on either device.
#include <cstdint>

#include "modelmix/core/config.hpp"
#include "modelmix/core/hash.hpp"

namespace modelmix::ops {

// Element i survives iff its 53-bit hash is ≥ threshold = ⌈p·2^53⌉, i.e. u = hash·2^−53 ≥ p.
MODELMIX_HOST_DEVICE inline bool dropout_keeps(std::uint64_t seed_hash, std::uint64_t index, std::uint64_t threshold) {
  return (splitmix64(seed_hash + index) >> 11) >= threshold;
}

}  // namespace modelmix::ops
