#pragma once
// CPU loops of the losses in losses/ (pce, dice, cosine_consistency / cosine_invariance,
// mix_with_reversed, one_hot). Sums are accumulated in double whatever T is. Gradient
// pointers may be null (that input needs no gradient); they are accumulated into (+=).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

// ---- pce (losses/partial_cross_entropy.hpp) ----

// weighted = −Σ y·log(p + ε) and labeled = Σ y over the n elements with y ≠ 0.
template <class T>
void pce_sums(const T* pd, const T* yd, index_t count, double eps, double& weighted_out, double& labeled_out) {
  double weighted = 0, labeled = 0;
#pragma omp parallel for reduction(+ : weighted, labeled)
  for (index_t i = 0; i < count; ++i) {
    if (yd[i] == T(0)) continue;  // skipped, so p = 0 with ε = 0 never gives 0·(−∞)
    weighted -= double(yd[i]) * std::log(double(pd[i]) + eps);
    labeled += double(yd[i]);
  }
  weighted_out = weighted;
  labeled_out = labeled;
}

// ∂p += −s·y / (p + ε) where y ≠ 0, ∂y += s·(−log(p + ε) − loss), s = g / labeled.
template <class T>
void pce_backward(const T* g, const T* pv, const T* yv, T* gp, T* gy, index_t count, double eps, double loss,
                  double labeled) {
  const double scale = double(g[0]) / labeled;
  if (gp) {
    T* out = gp;
#pragma omp parallel for
    for (index_t i = 0; i < count; ++i)
      if (yv[i] != T(0)) out[i] += T(-scale * double(yv[i]) / (double(pv[i]) + eps));
  }
  if (gy) {
    T* out = gy;
#pragma omp parallel for
    for (index_t i = 0; i < count; ++i) out[i] += T(scale * (-std::log(double(pv[i]) + eps) - loss));
  }
}

// ---- dice (losses/dice.hpp) ----

// Σ p·y, Σ p, Σ y over all count elements (dice_variant::global).
template <class T>
void dice_global_sums(const T* pv, const T* yv, index_t count, double& inter_out, double& psum_out,
                      double& ysum_out) {
  double inter = 0, psum = 0, ysum = 0;
#pragma omp parallel for reduction(+ : inter, psum, ysum)
  for (index_t i = 0; i < count; ++i) {
    inter += double(pv[i]) * double(yv[i]);
    psum += double(pv[i]);
    ysum += double(yv[i]);
  }
  inter_out = inter;
  psum_out = psum;
  ysum_out = ysum;
}

// ∂p += −s·(2·y·b − a), ∂y += −s·(2·p·b − a), s = g / b².
template <class T>
void dice_global_backward(const T* g, const T* pv, const T* yv, T* gp, T* gy, index_t count, double a, double b) {
  const double scale = double(g[0]) / (b * b);
  if (gp) {
    T* out = gp;
#pragma omp parallel for
    for (index_t i = 0; i < count; ++i) out[i] += T(-scale * (2 * double(yv[i]) * b - a));
  }
  if (gy) {
    T* out = gy;
#pragma omp parallel for
    for (index_t i = 0; i < count; ++i) out[i] += T(-scale * (2 * double(pv[i]) * b - a));
  }
}

// mask[n, i] = 1 where the target y [N, C, plane] has Σ_c y > 0 (the pixel carries a scribble).
template <class T>
void dice_scribble_mask(const T* yv, unsigned char* mask, index_t n, index_t classes, index_t plane) {
#pragma omp parallel for
  for (index_t k = 0; k < n * plane; ++k) {
    const index_t b = k / plane, i = k % plane;
    double sum = 0;
    for (index_t c = 0; c < classes; ++c) sum += double(yv[(b * classes + c) * plane + i]);
    mask[static_cast<std::size_t>(k)] = sum > 0;
  }
}

// Per class c: I_c = Σ m·p_c·y_c, P_c = Σ m·p_c, Y_c = Σ m·y_c (dice_variant::scribbled).
template <class T>
void dice_scribbled_sums(const T* pv, const T* yv, const unsigned char* mask, index_t n, index_t classes,
                         index_t plane, double* inter_out, double* psum_out, double* ysum_out) {
  for (index_t c = 0; c < classes; ++c) {
    double inter = 0, psum = 0, ysum = 0;
#pragma omp parallel for reduction(+ : inter, psum, ysum)
    for (index_t k = 0; k < n * plane; ++k) {
      if (!mask[static_cast<std::size_t>(k)]) continue;
      const index_t at = ((k / plane) * classes + c) * plane + k % plane;
      inter += double(pv[at]) * double(yv[at]);
      psum += double(pv[at]);
      ysum += double(yv[at]);
    }
    inter_out[c] = inter;
    psum_out[c] = psum;
    ysum_out[c] = ysum;
  }
}

// For each present class (b[c] ≥ 0), on scribbled pixels: ∂p_c += −s·(2·y_c·b − a),
// ∂y_c += −s·(2·p_c·b − a), s = g / (present·b²).
template <class T>
void dice_scribbled_backward(const T* g, const T* pv, const T* yv, const unsigned char* mask, T* gp, T* gy, index_t n,
                             index_t classes, index_t plane, const double* a, const double* b, index_t present) {
  for (index_t c = 0; c < classes; ++c) {
    const double bc = b[static_cast<std::size_t>(c)], ac = a[static_cast<std::size_t>(c)];
    if (bc < 0) continue;
    const double scale = double(g[0]) / (double(present) * bc * bc);
#pragma omp parallel for
    for (index_t k = 0; k < n * plane; ++k) {
      if (!mask[static_cast<std::size_t>(k)]) continue;
      const index_t at = ((k / plane) * classes + c) * plane + k % plane;
      if (gp) gp[at] += T(-scale * (2 * double(yv[at]) * bc - ac));
      if (gy) gy[at] += T(-scale * (2 * double(pv[at]) * bc - ac));
    }
  }
}

// ---- cosine_consistency / cosine_invariance (losses/cosine_consistency.hpp) ----

// Per group g of len elements: aa = ‖a_g‖², bb = ‖b_g‖², cosine = ⟨a_g, b_g⟩ / max(‖a_g‖‖b_g‖, eps).
// Returns Σ_g cosine.
template <class T>
double group_cosines(const T* av, const T* bv, index_t groups, index_t len, double eps, double* aa, double* bb,
                     double* cosine) {
  double total = 0;
#pragma omp parallel for reduction(+ : total)
  for (index_t g = 0; g < groups; ++g) {
    const T* x = av + g * len;
    const T* y = bv + g * len;
    double dot = 0, xx = 0, yy = 0;
    for (index_t i = 0; i < len; ++i) {
      dot += double(x[i]) * double(y[i]);
      xx += double(x[i]) * double(x[i]);
      yy += double(y[i]) * double(y[i]);
    }
    const std::size_t k = static_cast<std::size_t>(g);
    aa[k] = xx;
    bb[k] = yy;
    cosine[k] = dot / std::max(std::sqrt(xx * yy), eps);
    total += cosine[k];
  }
  return total;
}

// The backward of offset − mean_g cos(a_g, b_g): g_out is the upstream gradient (one element).
template <class T>
void group_cosines_backward(const T* g_out, const T* av, const T* bv, T* ga, T* gb, index_t groups, index_t len,
                            double eps, const double* aa, const double* bb, const double* cosine) {
  const double scale = -double(g_out[0]) / double(groups);
#pragma omp parallel for
  for (index_t k = 0; k < groups; ++k) {
    const std::size_t s = static_cast<std::size_t>(k);
    const double norm = std::sqrt(aa[s] * bb[s]);
    const bool clamped = !(norm > eps);
    const double inv = clamped ? 1.0 / eps : 1.0 / norm;
    // ∂cos/∂a = inv·b − ca·a, ∂cos/∂b = inv·a − cb·b
    const double ca = clamped ? 0.0 : cosine[s] / aa[s];
    const double cb = clamped ? 0.0 : cosine[s] / bb[s];
    const T* x = av + k * len;
    const T* y = bv + k * len;
    if (ga) {
      T* out = ga + k * len;
      for (index_t i = 0; i < len; ++i) out[i] += T(scale * (inv * double(y[i]) - ca * double(x[i])));
    }
    if (gb) {
      T* out = gb + k * len;
      for (index_t i = 0; i < len; ++i) out[i] += T(scale * (inv * double(x[i]) - cb * double(y[i])));
    }
  }
}

// ---- mix_with_reversed (losses/mixup.hpp) ----

// out[b] = β_b·x[b] + (1 − β_b)·x[n−1−b] for n samples of per elements.
template <class T>
void mix_with_reversed(const T* x, T* out, const double* betas, index_t n, index_t per) {
  for (index_t b = 0; b < n; ++b) {
    const double beta = betas[static_cast<std::size_t>(b)];
    const T* own = x + b * per;
    const T* partner = x + (n - 1 - b) * per;
    T* dst = out + b * per;
    for (index_t i = 0; i < per; ++i) dst[i] = T(beta * double(own[i]) + (1 - beta) * double(partner[i]));
  }
}

// ∂x[b] += β_b·g[b], ∂x[n−1−b] += (1 − β_b)·g[b]
template <class T>
void mix_with_reversed_backward(const T* g, T* gx, const double* betas, index_t n, index_t per) {
  for (index_t b = 0; b < n; ++b) {
    const double beta = betas[static_cast<std::size_t>(b)];
    const T* gb = g + b * per;
    T* own = gx + b * per;
    T* partner = gx + (n - 1 - b) * per;
    for (index_t i = 0; i < per; ++i) {
      own[i] += T(beta * double(gb[i]));
      partner[i] += T((1 - beta) * double(gb[i]));
    }
  }
}

// ---- one_hot (losses/one_hot.hpp) ----

// y[b, label, i] = 1 for labels [n, plane], y [n, classes, plane] zero-filled beforehand; pixels
// equal to ignore_value are skipped. Stops at the first label that is neither a class nor the
// ignore value and returns its flat index b·plane + i; −1 when every label is valid.
template <class T>
index_t one_hot(const std::uint8_t* labels, T* y, index_t n, index_t plane, int classes, int ignore_value) {
  for (index_t b = 0; b < n; ++b) {
    for (index_t i = 0; i < plane; ++i) {
      const int label = labels[b * plane + i];
      if (label == ignore_value) continue;
      if (!(label < classes)) return b * plane + i;
      y[(b * classes + label) * plane + i] = T(1);
    }
  }
  return -1;
}

}  // namespace modelmix::ops::cpu
