#pragma once
// One value type describes a 2D convolution; the reference loops, the CPU path, the CUDA
// kernels, cuDNN, the tests and the benchmarks all take it.
//
//   x: [N, C, H, W]   w: [K, C, R, S]   b: [K]   y: [N, K, P, Q]
//   P = (H + 2·pad_h − R) / stride_h + 1,  Q = (W + 2·pad_w − S) / stride_w + 1
//   y[n,k,p,q] = b[k] + Σ_{c,r,s} w[k,c,r,s] · x[n, c, p·stride_h − pad_h + r, q·stride_w − pad_w + s]
//
// Roles as GEMMs (M × N × K):
//   fprop  y  = W · im2col(x)           K × (N·P·Q) × (C·R·S)
//   dgrad  dx = col2im(Wᵀ · dy)         (C·R·S) × (N·P·Q) × K
//   wgrad  dW = dy · im2col(x)ᵀ         K × (C·R·S) × (N·P·Q)
#include <string>

#include "modelmix/core/config.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/core/shape.hpp"

namespace modelmix::ops {

struct conv2d_problem {
  index_t N = 1, C = 1, H = 1, W = 1;  // input
  index_t K = 1, R = 1, S = 1;         // filters
  index_t pad_h = 0, pad_w = 0;
  index_t stride_h = 1, stride_w = 1;

  MODELMIX_HOST_DEVICE constexpr index_t P() const { return (H + 2 * pad_h - R) / stride_h + 1; }
  MODELMIX_HOST_DEVICE constexpr index_t Q() const { return (W + 2 * pad_w - S) / stride_w + 1; }
  MODELMIX_HOST_DEVICE constexpr index_t gemm_k() const { return C * R * S; }

  [[nodiscard]] Shape input_shape() const { return {N, C, H, W}; }
  [[nodiscard]] Shape filter_shape() const { return {K, C, R, S}; }
  [[nodiscard]] Shape bias_shape() const { return {K}; }
  [[nodiscard]] Shape output_shape() const { return {N, K, P(), Q()}; }

  // Multiply-adds counted as 2 FLOPs; the one count every benchmark reports against.
  [[nodiscard]] double fprop_flops() const { return 2.0 * double(N) * K * P() * Q() * C * R * S; }

  void validate() const {
    MODELMIX_REQUIRE(N > 0 && C > 0 && H > 0 && W > 0 && K > 0 && R > 0 && S > 0,
                     "conv2d: all extents must be positive, got ", str());
    MODELMIX_REQUIRE(stride_h > 0 && stride_w > 0 && pad_h >= 0 && pad_w >= 0, "conv2d: bad stride/padding in ", str());
    MODELMIX_REQUIRE(H + 2 * pad_h >= R && W + 2 * pad_w >= S, "conv2d: filter larger than padded input in ", str());
  }
  [[nodiscard]] std::string str() const {
    return cat("conv2d_problem{N=", N, " C=", C, " H=", H, " W=", W, " K=", K, " R=", R, " S=", S, " pad=", pad_h,
               "x", pad_w, " stride=", stride_h, "x", stride_w, "}");
  }
  friend bool operator==(const conv2d_problem&, const conv2d_problem&) = default;
};

// Build the problem from an input shape [N,C,H,W] and a filter shape [K,C,R,S].
inline conv2d_problem make_conv2d_problem(const Shape& x, const Shape& w, index_t stride, index_t padding) {
  MODELMIX_REQUIRE(x.rank() == 4, "conv2d: input must be [N, C, H, W], got ", x);
  MODELMIX_REQUIRE(w.rank() == 4, "conv2d: weight must be [K, C, R, S], got ", w);
  MODELMIX_REQUIRE(x[1] == w[1], "conv2d: input has ", x[1], " channels but weight ", w, " expects ", w[1]);
  conv2d_problem p{x[0], x[1], x[2], x[3], w[0], w[2], w[3], padding, padding, stride, stride};
  p.validate();
  return p;
}

}  // namespace modelmix::ops
