#pragma once
// Kernel bodies of ops/cuda/upsample.hpp: functors `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run. Grid-stride loops over 32-bit
// counts (for_each_index of elementwise.cuh); any 1D grid of blocks of any multiple of 32 threads.
// Forward kernels run one thread per output, backward kernels one thread per input (a gather).
#include "modelmix/ops/cuda/elementwise.cuh"
#include "modelmix/ops/cuda/kernel_ctx.cuh"
#include "modelmix/ops/cuda/upsample.hpp"

namespace modelmix::ops::cuda {

struct upsample_nearest2x_kernel {
  const float* x;
  float* y;
  int H, W;
  int n;  // planes · 2H · 2W

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* x = this->x;
    float* y = this->y;
    const int H = this->H, W = this->W;
    for_each_index(ctx, n, [=](int o) {
      const int oj = o % (2 * W), pr = o / (2 * W), oi = pr % (2 * H), p = pr / (2 * H);
      y[o] = x[(p * H + oi / 2) * W + oj / 2];
    });
  }
};

// The CPU's order: (top pair) + (bottom pair).
struct upsample_nearest2x_backward_kernel {
  const float* g;
  float* d;
  int W;
  int n;  // planes · H · W
  bool assign;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* g = this->g;
    float* d = this->d;
    const int W = this->W;
    const auto window = [=](int e) {
      const int j = e % W, pi = e / W;  // pi = p·H + i
      const float* g0 = g + (2 * pi) * (2 * W) + 2 * j;
      const float* g1 = g0 + 2 * W;
      return (g0[0] + g0[1]) + (g1[0] + g1[1]);
    };
    if (assign)
      for_each_index(ctx, n, [=](int e) { d[e] = window(e); });
    else
      for_each_index(ctx, n, [=](int e) { d[e] += window(e); });
  }
};

// One output: the H pass at the (one or two) columns it needs, then the W pass, with the
// CPU's products and sums (cpu::upsample_bilinear2x's row buffer, recomputed per output).
struct upsample_bilinear2x_kernel {
  const float* x;
  float* y;
  int H, W;
  int n;  // planes · 2H · 2W

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* x = this->x;
    float* y = this->y;
    const int H = this->H, W = this->W;
    for_each_index(ctx, n, [=](int o) {
      const int oj = o % (2 * W), pr = o / (2 * W), oi = pr % (2 * H), p = pr / (2 * H);
      // bilinear2x_tap along H.
      const int i = oi / 2;
      const bool even_i = (oi & 1) == 0;
      const int lo = even_i ? (i > 0 ? i - 1 : 0) : i;
      const int hi = even_i ? i : (i + 1 < H ? i + 1 : H - 1);
      const float w_lo = even_i ? 0.25f : 0.75f, w_hi = even_i ? 0.75f : 0.25f;
      const float* rlo = x + (p * H + lo) * W;
      const float* rhi = x + (p * H + hi) * W;
      const auto row = [=](int c) { return w_lo * rlo[c] + w_hi * rhi[c]; };
      // Along W.
      const int j = oj / 2;
      if ((oj & 1) == 0)
        y[o] = 0.25f * row(j > 0 ? j - 1 : 0) + 0.75f * row(j);
      else
        y[o] = 0.75f * row(j) + 0.25f * row(j + 1 < W ? j + 1 : W - 1);
    });
  }
};

// The outputs that read input index i along an axis of length L, and with which weight: output
// 2i−1 + t for t = 0..3 with weight w[t] (0: no tap). At the edges the clamped tap lands on the
// same output as the inner one, whose weight becomes 0.75 + 0.25 = 1.
struct bilinear2x_adjoint {
  float w0, w1, w2, w3;
  MODELMIX_HOST_DEVICE bilinear2x_adjoint(int i, int L)
      : w0(i > 0 ? 0.25f : 0.f),
        w1(i == 0 ? 1.f : 0.75f),
        w2(i == L - 1 ? 1.f : 0.75f),
        w3(i + 1 < L ? 0.25f : 0.f) {}
  MODELMIX_HOST_DEVICE float operator[](int t) const { return t == 0 ? w0 : t == 1 ? w1 : t == 2 ? w2 : w3; }
};

// One thread per input element: Σ over the (up to) 4 output rows that read its row, in order, of
// the row weight times Σ over the (up to) 4 output columns that read its column, in order.
struct upsample_bilinear2x_backward_kernel {
  const float* g;
  float* d;
  int H, W;
  int n;  // planes · H · W

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* g = this->g;
    float* d = this->d;
    const int H = this->H, W = this->W;
    for_each_index(ctx, n, [=](int e) {
      const int j = e % W, pi = e / W, i = pi % H, p = pi / H;
      const bilinear2x_adjoint wr(i, H), wc(j, W);
      const float* plane = g + p * (2 * H) * (2 * W);
      float acc = 0.f;
      MODELMIX_UNROLL
      for (int r = 0; r < 4; ++r) {
        if (wr[r] == 0.f) continue;
        const int first = (2 * i - 1 + r) * (2 * W) + (2 * j - 1);  // −1 only where w[0] = 0: never read
        float s = 0.f;
        MODELMIX_UNROLL
        for (int c = 0; c < 4; ++c)
          if (wc[c] != 0.f) s += wc[c] * plane[first + c];
        acc += wr[r] * s;
      }
      d[e] += acc;
    });
  }
};

}  // namespace modelmix::ops::cuda
