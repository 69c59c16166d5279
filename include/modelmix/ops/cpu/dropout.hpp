#pragma once
// CPU loop of ops::dropout (ops/dropout.hpp).
#include <cstdint>

#include "modelmix/ops/cpu/keep_or_zero.hpp"
#include "modelmix/ops/cpu/parallel.hpp"
#include "modelmix/ops/dropout_mask.hpp"

namespace modelmix::ops::cpu {

// out_i (+)= in_i · m_i · keep_scale, m_i = [hash(seed_hash + i) ≥ threshold]: overwritten for
// the forward, accumulated (accumulate = true) for the backward, which passes g as `in` (and
// overwrites too when the gradient slot is written first, Tape::grad_target).
template <class T>
void dropout_apply(const T* in, T* out, bool accumulate, index_t n, T keep_scale, std::uint64_t seed_hash,
                   std::uint64_t threshold) {
  // Two loops rather than a branch on `accumulate` inside one, the product formed for every
  // element, the select as a bit mask (keep_or_zero.hpp), the pointers in locals: so GCC
  // vectorises both loops, the 64-bit hash included (7.7× at 2²¹ floats under AVX-512,
  // docs/benchmarks.md). It kept the single loop scalar.
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    const T* const src = in;
    T* const dst = out;
    const auto kept = [=](index_t i) { return dropout_keeps(seed_hash, std::uint64_t(i), threshold); };
    if (accumulate)
      for (index_t i = i0; i < i1; ++i) dst[i] += keep_or_zero(kept(i), src[i] * keep_scale);
    else
      for (index_t i = i0; i < i1; ++i) dst[i] = keep_or_zero(kept(i), src[i] * keep_scale);
  });
}

}  // namespace modelmix::ops::cpu
