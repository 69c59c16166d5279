#pragma once
// ops::dropout on a CUDA device, as the g++-compiled core calls it: the float launch of the
// kernel in ops/cuda/dropout.cuh (src/cuda/dropout.cu; the emulated device in the tests).
// Same contract and the same mask as cpu::dropout_apply (ops/cpu/dropout.hpp):
//
//   out_i (+)= in_i · m_i · keep_scale,  m_i = [splitmix64(seed_hash + i) >> 11 ≥ threshold]
//
// overwritten for the forward, accumulated (accumulate = true) for the backward, which passes g
// as `in`. The mask is the hash of the flat index (core/hash.hpp), so a seeded run drops the
// same units on the CPU and on the device. Pointers are device memory; work is queued on the
// calling thread's cuda::context stream.
#include <cstdint>

#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

void dropout_apply(const float* in, float* out, bool accumulate, index_t n, float keep_scale, std::uint64_t seed_hash,
                   std::uint64_t threshold);

}  // namespace modelmix::ops::cuda
