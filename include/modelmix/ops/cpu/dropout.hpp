#pragma once
// CPU loop of ops::dropout (ops/dropout.hpp).
#include <cstdint>

#include "modelmix/ops/cpu/parallel.hpp"
#include "modelmix/ops/dropout_mask.hpp"

namespace modelmix::ops::cpu {

// out_i (+)= in_i · m_i · keep_scale, m_i = [hash(seed_hash + i) ≥ threshold]: overwritten for
// the forward, accumulated (accumulate = true) for the backward, which passes g as `in` (and
// overwrites too when the gradient slot is written first, Tape::grad_target).
template <class T>
void dropout_apply(const T* in, T* out, bool accumulate, index_t n, T keep_scale, std::uint64_t seed_hash,
                   std::uint64_t threshold) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) {
      const T scaled = in[i] * keep_scale;  // unconditional: a select, not an unpredictable branch
      const T v = dropout_keeps(seed_hash, std::uint64_t(i), threshold) ? scaled : T(0);
      if (accumulate)
        out[i] += v;
      else
        out[i] = v;
    }
  });
}

}  // namespace modelmix::ops::cpu
