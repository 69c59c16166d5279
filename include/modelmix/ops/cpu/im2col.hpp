#pragma once
// im2col / col2im for one sample and a band of output rows [p0, p1) — the B operand of the
// convolution GEMMs (see ops/conv2d_problem.hpp for the roles).
//
//   x_n [C, H, W]      col [C·R·S, (p1 − p0)·Q]   (row-major; row (c·R + r)·S + s, column (p − p0)·Q + q)
//   col[(c,r,s), (p,q)] = x_n[c, p·stride_h − pad_h + r, q·stride_w − pad_w + s]   (0 outside the image)
//
// col2im_add is the adjoint: it scatters col back and accumulates (+=) into dx_n, so taps of
// neighbouring pixels that hit the same input element add up.
#include <algorithm>
#include <cstring>

#include "modelmix/ops/conv2d_problem.hpp"

namespace modelmix::ops::cpu {

namespace detail {
// Output columns q whose tap s lands inside the image: q ∈ [lo, hi).
struct column_range {
  index_t lo, hi;
};
inline column_range valid_columns(const conv2d_problem& pb, index_t s) {
  const index_t first = pb.pad_w - s;  // q·stride_w ≥ pad_w − s
  const index_t last = pb.W - 1 + pb.pad_w - s;  // q·stride_w ≤ W − 1 + pad_w − s
  const index_t lo = first > 0 ? (first + pb.stride_w - 1) / pb.stride_w : 0;
  const index_t hi = last < 0 ? 0 : std::min(pb.Q(), last / pb.stride_w + 1);
  return {std::min(lo, hi), hi};
}
}  // namespace detail

template <class T>
void im2col(const conv2d_problem& pb, const T* x_n, index_t p0, index_t p1, T* col) {
  const index_t Q = pb.Q(), cols = (p1 - p0) * Q;
  for (index_t c = 0; c < pb.C; ++c)
    for (index_t r = 0; r < pb.R; ++r)
      for (index_t s = 0; s < pb.S; ++s) {
        T* dst = col + ((c * pb.R + r) * pb.S + s) * cols;
        const auto [lo, hi] = detail::valid_columns(pb, s);
        for (index_t p = p0; p < p1; ++p, dst += Q) {
          const index_t ih = p * pb.stride_h - pb.pad_h + r;
          if (ih < 0 || ih >= pb.H || lo == hi) {
            std::fill(dst, dst + Q, T(0));
            continue;
          }
          // src[i·stride_w] is the tap of output column lo + i
          const T* src = x_n + (c * pb.H + ih) * pb.W + lo * pb.stride_w - pb.pad_w + s;
          std::fill(dst, dst + lo, T(0));
          if (pb.stride_w == 1) {
            std::memcpy(dst + lo, src, sizeof(T) * static_cast<std::size_t>(hi - lo));
          } else {
            for (index_t q = lo; q < hi; ++q) dst[q] = src[(q - lo) * pb.stride_w];
          }
          std::fill(dst + hi, dst + Q, T(0));
        }
      }
}

template <class T>
void col2im_add(const conv2d_problem& pb, const T* col, index_t p0, index_t p1, T* dx_n) {
  const index_t Q = pb.Q(), cols = (p1 - p0) * Q;
  for (index_t c = 0; c < pb.C; ++c)
    for (index_t r = 0; r < pb.R; ++r)
      for (index_t s = 0; s < pb.S; ++s) {
        const T* src = col + ((c * pb.R + r) * pb.S + s) * cols;
        const auto [lo, hi] = detail::valid_columns(pb, s);
        for (index_t p = p0; p < p1; ++p, src += Q) {
          const index_t ih = p * pb.stride_h - pb.pad_h + r;
          if (ih < 0 || ih >= pb.H || lo == hi) continue;
          T* dst = dx_n + (c * pb.H + ih) * pb.W + lo * pb.stride_w - pb.pad_w + s;
          if (pb.stride_w == 1) {
            for (index_t q = lo; q < hi; ++q) dst[q - lo] += src[q];
          } else {
            for (index_t q = lo; q < hi; ++q) dst[(q - lo) * pb.stride_w] += src[q];
          }
        }
      }
}

}  // namespace modelmix::ops::cpu
