#pragma once
// Kernel bodies of ops/cuda/losses.hpp: functors `k(ctx, smem)` that src/cuda (through
// ops/cuda/launch.cuh) and the CPU grid emulator both run.
//
// Reductions (Σ's of pce and Dice, per-class Dice sums, per-group and per-row cosines): one
// block per reduced quantity, each thread a strided double partial, the block summed by
// block_sum in a fixed order (no atomics: the same bits run after run). Scalars that combine
// several reduced quantities (the Dice mean over present classes, the mean cosine) are formed
// by a small one-block kernel in a fixed order. The per-element backward kernels are
// grid-stride loops that read those scalars from the device `stats` buffer and the incoming
// gradient g[0] where they live. The arithmetic is the CPU loop's, in double where it uses
// double (log, sqrt and division on doubles: math.h, not std::).
#include <math.h>
#include <stdint.h>

#include "modelmix/ops/cuda/block_reduce.cuh"
#include "modelmix/ops/cuda/elementwise.cuh"  // for_each_index, elementwise_grid
#include "modelmix/ops/cuda/kernel_ctx.cuh"
#include "modelmix/ops/cuda/losses.hpp"

namespace modelmix::ops::cuda {

inline constexpr int loss_threads = 256;

// ---- one_hot ----

struct one_hot_kernel {
  const uint8_t* labels;
  float* y;
  int n, plane, classes, ignore_value;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const uint8_t* labels = this->labels;
    float* y = this->y;
    const int plane = this->plane, classes = this->classes;
    for_each_index(ctx, n * plane, [=](int k) {
      const int b = k / plane, i = k - b * plane;
      const int label = labels[k];
      float* out = y + (b * classes) * plane + i;
      for (int c = 0; c < classes; ++c) out[c * plane] = label == c ? 1.f : 0.f;
    });
  }
};

// One block: each thread the smallest invalid index of its strided share, then thread 0 the
// smallest of all (a minimum: the result does not depend on the order).
struct one_hot_check_kernel {
  struct smem {
    int first[loss_threads];
  };
  const uint8_t* labels;
  int count, classes, ignore_value;
  int* first_bad;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    const int t = ctx.linear_thread();
    int first = count;
    for (int k = t; k < count; k += loss_threads) {
      const int label = labels[k];
      if (label != ignore_value && !(label < classes)) {
        first = k;
        break;
      }
    }
    sm.first[t] = first;
    ctx.sync();
    if (t == 0) {
      int m = count;
      for (int u = 0; u < loss_threads; ++u) m = sm.first[u] < m ? sm.first[u] : m;
      first_bad[0] = m < count ? m : -1;
    }
  }
};

// ---- pce ----

struct pce_kernel {
  using smem = block_sum_smem<loss_threads, double, 2>;
  const float* p;
  const float* y;
  int count;
  double eps;
  double* stats;
  float* loss;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    double v[2] = {0.0, 0.0};  // weighted, labeled
    for (int i = ctx.linear_thread(); i < count; i += loss_threads) {
      const float yi = y[i];
      if (yi == 0.f) continue;  // skipped, so p = 0 with ε = 0 never gives 0·(−∞)
      v[0] -= double(yi) * log(double(p[i]) + eps);
      v[1] += double(yi);
    }
    block_sum(ctx, sm, v, 3u);
    if (ctx.linear_thread() == 0) {
      const double value = v[1] > 0 ? v[0] / v[1] : 0.0;
      stats[0] = value;
      stats[1] = v[1];
      loss[0] = float(value);
    }
  }
};

struct pce_backward_kernel {
  const float* g;
  const float* p;
  const float* y;
  float* gp;
  float* gy;
  int count;
  double eps;
  const double* stats;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const double labeled = stats[1];
    if (!(labeled > 0)) return;  // no scribbled pixel: zero gradient (no barrier in this kernel)
    const double value = stats[0], scale = double(g[0]) / labeled, eps = this->eps;
    const float* p = this->p;
    const float* y = this->y;
    float* gp = this->gp;
    float* gy = this->gy;
    for_each_index(ctx, count, [=](int i) {
      if (gp && y[i] != 0.f) gp[i] += float(-scale * double(y[i]) / (double(p[i]) + eps));
      if (gy) gy[i] += float(scale * (-log(double(p[i]) + eps) - value));
    });
  }
};

// ---- dice, global ----

struct dice_global_kernel {
  using smem = block_sum_smem<loss_threads, double, 3>;
  const float* p;
  const float* y;
  int count;
  double smooth;
  double* stats;
  float* loss;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    double v[3] = {0.0, 0.0, 0.0};  // Σ p·y, Σ p, Σ y
    for (int i = ctx.linear_thread(); i < count; i += loss_threads) {
      const double pi = double(p[i]), yi = double(y[i]);
      v[0] += pi * yi;
      v[1] += pi;
      v[2] += yi;
    }
    block_sum(ctx, sm, v, 7u);
    if (ctx.linear_thread() == 0) {
      const double a = 2 * v[0] + smooth, b = v[1] + v[2] + smooth;
      stats[0] = a;
      stats[1] = b;
      loss[0] = float(b > 0 ? 1 - a / b : 0.0);
    }
  }
};

struct dice_global_backward_kernel {
  const float* g;
  const float* p;
  const float* y;
  float* gp;
  float* gy;
  int count;
  const double* stats;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const double a = stats[0], b = stats[1];
    if (!(b > 0)) return;  // no barrier in this kernel
    const double scale = double(g[0]) / (b * b);
    const float* p = this->p;
    const float* y = this->y;
    float* gp = this->gp;
    float* gy = this->gy;
    for_each_index(ctx, count, [=](int i) {
      if (gp) gp[i] += float(-scale * (2 * double(y[i]) * b - a));
      if (gy) gy[i] += float(-scale * (2 * double(p[i]) * b - a));
    });
  }
};

// ---- dice, scribbled ----

// mask[b, i] = Σ_c y[b, c, i] > 0, the sum in double over c = 0, 1, … (the CPU's order).
struct dice_mask_kernel {
  const float* y;
  uint8_t* mask;
  int n, classes, plane;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* y = this->y;
    uint8_t* mask = this->mask;
    const int classes = this->classes, plane = this->plane;
    for_each_index(ctx, n * plane, [=](int k) {
      const int b = k / plane, i = k - b * plane;
      const float* in = y + (b * classes) * plane + i;
      double sum = 0;
      for (int c = 0; c < classes; ++c) sum += double(in[c * plane]);
      mask[k] = sum > 0 ? 1 : 0;
    });
  }
};

// Block c: I_c, P_c, Y_c over the masked pixels → A_c = 2I_c + s, B_c (−1 when Y_c ≤ 0), Y_c.
struct dice_class_sums_kernel {
  using smem = block_sum_smem<loss_threads, double, 3>;
  const float* p;
  const float* y;
  const uint8_t* mask;
  int n, classes, plane;
  double smooth;
  double* stats;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    const int c = ctx.block().x;
    double v[3] = {0.0, 0.0, 0.0};  // I, P, Y
    const int pixels = n * plane;
    for (int k = ctx.linear_thread(); k < pixels; k += loss_threads) {
      if (!mask[k]) continue;
      const int b = k / plane, at = (b * classes + c) * plane + (k - b * plane);
      const double pi = double(p[at]), yi = double(y[at]);
      v[0] += pi * yi;
      v[1] += pi;
      v[2] += yi;
    }
    block_sum(ctx, sm, v, 7u);
    if (ctx.linear_thread() == 0) {
      stats[c] = 2 * v[0] + smooth;
      stats[classes + c] = v[2] > 0 ? v[1] + v[2] + smooth : -1.0;
      stats[2 * classes + c] = v[2];
    }
  }
};

// Thread 0: the mean ratio over present classes, added in class order as on the CPU.
struct dice_scribbled_loss_kernel {
  int classes;
  double* stats;
  float* loss;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    if (ctx.linear_thread() != 0) return;
    double ratio_sum = 0;
    int present = 0;
    for (int c = 0; c < classes; ++c)
      if (stats[2 * classes + c] > 0) {
        ratio_sum += stats[c] / stats[classes + c];
        ++present;
      }
    stats[3 * classes] = double(present);
    loss[0] = float(present > 0 ? 1 - ratio_sum / double(present) : 0.0);
  }
};

// One thread per element (b, c, i) of p and y: the elements of absent classes and unscribbled
// pixels are left alone.
struct dice_scribbled_backward_kernel {
  const float* g;
  const float* p;
  const float* y;
  const uint8_t* mask;
  float* gp;
  float* gy;
  int n, classes, plane;
  const double* stats;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const double present = stats[3 * classes];
    if (present == 0) return;  // no barrier in this kernel
    const double g0 = double(g[0]);
    const float* p = this->p;
    const float* y = this->y;
    const uint8_t* mask = this->mask;
    float* gp = this->gp;
    float* gy = this->gy;
    const double* stats = this->stats;
    const int classes = this->classes, plane = this->plane;
    for_each_index(ctx, n * classes * plane, [=](int at) {
      const int bc_index = at / plane, i = at - bc_index * plane;
      const int b = bc_index / classes, c = bc_index - b * classes;
      const double bc = stats[classes + c], ac = stats[c];
      if (bc < 0 || !mask[b * plane + i]) return;
      const double scale = g0 / (present * bc * bc);
      if (gp) gp[at] += float(-scale * (2 * double(y[at]) * bc - ac));
      if (gy) gy[at] += float(-scale * (2 * double(p[at]) * bc - ac));
    });
  }
};

// ---- cosines ----

// Block u: the dot product and squared norms of row u (len elements) in double.
template <class Ctx>
MODELMIX_HOST_DEVICE inline void row_dot_norms(const Ctx& ctx, block_sum_smem<loss_threads, double, 3>& sm,
                                               const float* x, const float* z, int len, double (&v)[3]) {
  v[0] = v[1] = v[2] = 0.0;  // ⟨x, z⟩, ‖x‖², ‖z‖²
  for (int i = ctx.linear_thread(); i < len; i += loss_threads) {
    const double xi = double(x[i]), zi = double(z[i]);
    v[0] += xi * zi;
    v[1] += xi * xi;
    v[2] += zi * zi;
  }
  block_sum(ctx, sm, v, 7u);
}

struct group_cosines_kernel {
  using smem = block_sum_smem<loss_threads, double, 3>;
  const float* a;
  const float* b;
  int groups, len;
  double eps;
  double* stats;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    const int k = ctx.block().x;
    double v[3];
    row_dot_norms(ctx, sm, a + k * len, b + k * len, len, v);
    if (ctx.linear_thread() == 0) {
      const double norm = sqrt(v[1] * v[2]);
      stats[k] = v[1];
      stats[groups + k] = v[2];
      stats[2 * groups + k] = v[0] / (norm < eps ? eps : norm);  // std::max(norm, eps)
    }
  }
};

// One block: loss = offset − (Σ_g cos_g) / groups, the cosines summed in a fixed order.
struct group_cosines_loss_kernel {
  using smem = block_sum_smem<loss_threads, double, 1>;
  int groups;
  double offset;
  const double* stats;
  float* loss;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    double v[1] = {0.0};
    for (int k = ctx.linear_thread(); k < groups; k += loss_threads) v[0] += stats[2 * groups + k];
    block_sum(ctx, sm, v, 1u);
    if (ctx.linear_thread() == 0) loss[0] = float(offset - v[0] / double(groups));
  }
};

struct group_cosines_backward_kernel {
  const float* g;
  const float* a;
  const float* b;
  float* ga;
  float* gb;
  int groups, len;
  double eps;
  const double* stats;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const double scale = -double(g[0]) / double(groups), eps = this->eps;
    const float* a = this->a;
    const float* b = this->b;
    float* ga = this->ga;
    float* gb = this->gb;
    const double* stats = this->stats;
    const int groups = this->groups, len = this->len;
    for_each_index(ctx, groups * len, [=](int i) {
      const int k = i / len;
      const double aa = stats[k], bb = stats[groups + k], cosine = stats[2 * groups + k];
      const double norm = sqrt(aa * bb);
      const bool clamped = !(norm > eps);
      const double inv = clamped ? 1.0 / eps : 1.0 / norm;
      const double x = double(a[i]), z = double(b[i]);
      if (ga) ga[i] += float(scale * (inv * z - (clamped ? 0.0 : cosine / aa) * x));
      if (gb) gb[i] += float(scale * (inv * x - (clamped ? 0.0 : cosine / bb) * z));
    });
  }
};

struct cosine_similarity_kernel {
  using smem = block_sum_smem<loss_threads, double, 3>;
  const float* a;
  const float* b;
  float* y;
  double* stats;
  int len;
  double e;

  template <class Ctx>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, smem& sm) const {
    const int u = ctx.block().x;
    double v[3];
    row_dot_norms(ctx, sm, a + u * len, b + u * len, len, v);
    if (ctx.linear_thread() == 0) {
      const double norms = sqrt(v[1]) * sqrt(v[2]);
      const bool clamped = !(norms > e);
      const double D = clamped ? e : norms;
      double* r = stats + cosine_row_fields * u;
      r[0] = v[0] / D;
      r[1] = D;
      r[2] = v[1];
      r[3] = v[2];
      r[4] = clamped ? 1.0 : 0.0;
      y[u] = float(v[0] / D);
    }
  }
};

struct cosine_similarity_backward_kernel {
  const float* g;
  const float* self;
  const float* other;
  float* d;
  const double* stats;
  int rows, len;
  bool self_is_a;

  template <class Ctx, class Smem>
  MODELMIX_HOST_DEVICE void operator()(const Ctx& ctx, Smem&) const {
    const float* g = this->g;
    const float* ps = this->self;
    const float* po = this->other;
    float* d = this->d;
    const double* stats = this->stats;
    const int len = this->len, n2_field = self_is_a ? 2 : 3;
    for_each_index(ctx, rows * len, [=](int i) {
      const int u = i / len;
      const double* r = stats + cosine_row_fields * u;
      const float c_other = float(double(g[u]) / r[1]);
      const float c_self = r[4] != 0.0 ? 0.f : float(-double(g[u]) * r[0] / r[n2_field]);
      d[i] += c_other * po[i] + c_self * ps[i];
    });
  }
};

}  // namespace modelmix::ops::cuda
