#pragma once
// Adam, step for step as torch.optim.Adam (and AdamW for decoupled decay):
//
//   t ← t + 1
//   weight_decay_mode::l2:         g = grad + weight_decay·θ        (torch.optim.Adam(weight_decay=…))
//   weight_decay_mode::decoupled:  θ ← θ·(1 − lr·weight_decay), g = grad   (torch.optim.AdamW)
//   m ← β1·m + (1 − β1)·g
//   v ← β2·v + (1 − β2)·g²
//   θ ← θ − (lr / (1 − β1^t)) · m / (√v / √(1 − β2^t) + eps)
//
// The original ModelMix run: lr 1e-4, β = (0.9, 0.999), eps 1e-8, L2 weight decay 5e-4.
// State: "exp_avg.<parameter>" (m) and "exp_avg_sq.<parameter>" (v), torch's names, on the
// device of their parameter. On a CUDA device the update is one kernel per parameter with the
// loop's double arithmetic (ops/cuda/optim.hpp): a step never leaves the device.
#include <cmath>
#include <cstdint>
#include <string>

// The update runs in vectors of doubles where xsimd is there and the build has FMA (below).
#if __has_include(<xsimd/xsimd.hpp>) && defined(__FMA__)
#include <xsimd/xsimd.hpp>
#if !defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
#define MODELMIX_ADAM_VECTORISED 1
#endif
#endif

#include "modelmix/ops/cuda/optim.hpp"
#include "modelmix/ops/dispatch.hpp"
#include "modelmix/optim/optimizer_state.hpp"
#include "modelmix/optim/parameter_list.hpp"

namespace modelmix::optim {

enum class weight_decay_mode { l2, decoupled };

namespace detail {

struct adam_factors {
  double shrink, decay, beta1, beta2, step_size, inv_sqrt_bc2, eps;
  bool l2;
};

// a·b + c rounded once, for a double and for a vector of them, so that the vector loop and its
// scalar tail round alike. Not xsimd::fma for AVX-512: xsimd 8 has no AVX-512 form and falls
// back to a·b + c, which GCC then contracts around whichever product it picks.
inline double fused(double a, double b, double c) {
#if defined(__FMA__)
  return std::fma(a, b, c);
#else
  return a * b + c;  // no FMA unit in this build (so nothing is contracted either); std::fma would be a slow library call
#endif
}
#if MODELMIX_ADAM_VECTORISED
template <class A>
xsimd::batch<double, A> fused(xsimd::batch<double, A> a, xsimd::batch<double, A> b, xsimd::batch<double, A> c) {
#if XSIMD_WITH_AVX512F
  if constexpr (sizeof(a) == 64) return _mm512_fmadd_pd(a, b, c);
#endif
  return xsimd::fma(a, b, c);  // the FMA3 instruction
}
#endif

// The update of one element (V = double) or of a vector of them (V = xsimd::batch<double>): one
// fixed sequence of roundings, FMAs where GCC contracted the scalar loop this replaced (so the
// numbers of an L2-decay run did not move), the same in the vector loop and its scalar tail.
// m and v are updated in place; returns the new θ.
template <class V>
inline V adam_update(V theta, V grad, V& m, V& v, const adam_factors& f) {
  using std::sqrt;
  const V g = f.l2 ? fused(theta, V(f.decay), grad) : grad;
  m = fused(m, V(f.beta1), V(1 - f.beta1) * g);
  v = fused(v, V(f.beta2), V(1 - f.beta2) * g * g);
  const V step = V(f.step_size) * m / fused(sqrt(v), V(f.inv_sqrt_bc2), V(f.eps));
  return f.l2 ? theta - step : fused(theta, V(f.shrink), -step);  // decoupled decay: θ·(1 − lr·wd) − step
}

// θ, m, v ← one Adam update of elements [0, n), on the calling threads. In vectors of doubles
// where the build allows: GCC keeps the scalar loop scalar (std::sqrt may set errno), and that
// loop was ~3 % of a U-Net training step.
template <class T>
void adam_update_all(T* theta, const T* grad, T* m, T* v, index_t n, const adam_factors& f) {
  index_t vectorised = 0;
#if MODELMIX_ADAM_VECTORISED
  using batch = xsimd::batch<double>;
  constexpr index_t lanes = index_t(batch::size);
  const index_t blocks = n / lanes;
  vectorised = blocks * lanes;
#pragma omp parallel for if (n > 32768)
  for (index_t b = 0; b < blocks; ++b) {
    const index_t i = b * lanes;
    batch mb = batch::load_unaligned(m + i), vb = batch::load_unaligned(v + i);
    const batch th = adam_update(batch::load_unaligned(theta + i), batch::load_unaligned(grad + i), mb, vb, f);
    mb.store_unaligned(m + i);
    vb.store_unaligned(v + i);
    th.store_unaligned(theta + i);
  }
#endif
  for (index_t i = vectorised; i < n; ++i) {
    double mi = m[i], vi = v[i];
    theta[i] = T(adam_update(double(theta[i]), double(grad[i]), mi, vi, f));
    m[i] = T(mi);
    v[i] = T(vi);
  }
}

}  // namespace detail

struct adam_options {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  weight_decay_mode decay = weight_decay_mode::l2;
};

template <class T>
class Adam {
 public:
  static constexpr const char* kind = "adam";

  explicit Adam(named_parameters<T> params, adam_options options = {}) : params_(std::move(params)), options_(options) {
    detail::check_parameter_list("Adam", params_);
    MODELMIX_REQUIRE(options.lr >= 0, "Adam: lr must be non-negative; got ", options.lr);
    MODELMIX_REQUIRE(options.beta1 >= 0 && options.beta1 < 1, "Adam: beta1 must be in [0, 1); got ", options.beta1);
    MODELMIX_REQUIRE(options.beta2 >= 0 && options.beta2 < 1, "Adam: beta2 must be in [0, 1); got ", options.beta2);
    MODELMIX_REQUIRE(options.eps >= 0, "Adam: eps must be non-negative; got ", options.eps);
    MODELMIX_REQUIRE(options.weight_decay >= 0, "Adam: weight_decay must be non-negative; got ", options.weight_decay);
    for (const auto& [name, p] : params_) {
      exp_avg_.push_back(Tensor<T>::zeros(p->value.shape(), p->value.where()));
      exp_avg_sq_.push_back(Tensor<T>::zeros(p->value.shape(), p->value.where()));
    }
  }

  void zero_grad() {
    for (const auto& entry : params_) entry.second->zero_grad();
  }

  void step() {
    const adam_options o = options_;
    ++step_;
    const double t = double(step_);
    const double step_size = o.lr / (1 - std::pow(o.beta1, t));
    const double inv_sqrt_bc2 = 1 / std::sqrt(1 - std::pow(o.beta2, t));
    const bool l2 = o.decay == weight_decay_mode::l2;
    const double shrink = l2 ? 1.0 : 1 - o.lr * o.weight_decay;
    for (std::size_t k = 0; k < params_.size(); ++k) {
      Parameter<T>& p = *params_[k].second;
      const device where = ops::device_of("Adam", {p.value, p.grad});
      detail::follow(exp_avg_[k], where);
      detail::follow(exp_avg_sq_[k], where);
      T* theta = p.value.data();
      const T* grad = p.grad.data();
      T* m = exp_avg_[k].data();
      T* v = exp_avg_sq_[k].data();
      const index_t n = p.numel();
      ops::run_on(
          "Adam", where,
          [&] {
            detail::adam_update_all(theta, grad, m, v, n,
                                    {.shrink = shrink, .decay = o.weight_decay, .beta1 = o.beta1, .beta2 = o.beta2,
                                     .step_size = step_size, .inv_sqrt_bc2 = inv_sqrt_bc2, .eps = o.eps, .l2 = l2});
          },
          MODELMIX_CUDA_FLOAT(T, "Adam",
                              ops::cuda::adam_step({.theta = theta, .grad = grad, .exp_avg = m, .exp_avg_sq = v,
                                                    .n = n, .step_size = step_size, .inv_sqrt_bc2 = inv_sqrt_bc2,
                                                    .shrink = shrink, .beta1 = o.beta1, .beta2 = o.beta2,
                                                    .eps = o.eps, .weight_decay = o.weight_decay, .l2 = l2})));
    }
  }

  [[nodiscard]] double lr() const { return options_.lr; }
  void set_lr(double lr) {
    MODELMIX_REQUIRE(lr >= 0, "Adam: lr must be non-negative; got ", lr);
    options_.lr = lr;
  }
  [[nodiscard]] const adam_options& options() const { return options_; }
  [[nodiscard]] std::int64_t step_count() const { return step_; }
  [[nodiscard]] const named_parameters<T>& parameters() const { return params_; }

  // A copy of the buffers where they live (optim/checkpoint.hpp copies them to the host to save).
  [[nodiscard]] optimizer_state<T> state() const {
    optimizer_state<T> s{kind, step_, {}};
    for (std::size_t k = 0; k < params_.size(); ++k) {
      s.buffers.emplace(cat("exp_avg.", params_[k].first), exp_avg_[k]);
      s.buffers.emplace(cat("exp_avg_sq.", params_[k].first), exp_avg_sq_[k]);
    }
    return s;
  }
  // The buffers land on their parameter's device, wherever the state was saved from.
  void load_state(const optimizer_state<T>& s) {
    detail::check_state("Adam", s, kind, params_, {"exp_avg", "exp_avg_sq"});
    for (std::size_t k = 0; k < params_.size(); ++k) {
      const device where = params_[k].second->value.where();
      exp_avg_[k] = s.buffers.at(cat("exp_avg.", params_[k].first)).to(where);
      exp_avg_sq_[k] = s.buffers.at(cat("exp_avg_sq.", params_[k].first)).to(where);
    }
    step_ = s.step;
  }

 private:
  named_parameters<T> params_;
  adam_options options_;
  std::vector<Tensor<T>> exp_avg_, exp_avg_sq_;
  std::int64_t step_ = 0;
};

}  // namespace modelmix::optim
