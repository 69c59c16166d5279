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

#include "modelmix/ops/cuda/optim.hpp"
#include "modelmix/ops/dispatch.hpp"
#include "modelmix/optim/optimizer_state.hpp"
#include "modelmix/optim/parameter_list.hpp"

namespace modelmix::optim {

enum class weight_decay_mode { l2, decoupled };

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
#pragma omp parallel for if (n > 32768)
            for (index_t i = 0; i < n; ++i) {
              const double th = double(theta[i]) * shrink;
              const double g = l2 ? double(grad[i]) + o.weight_decay * double(theta[i]) : double(grad[i]);
              const double mi = o.beta1 * double(m[i]) + (1 - o.beta1) * g;
              const double vi = o.beta2 * double(v[i]) + (1 - o.beta2) * g * g;
              m[i] = T(mi);
              v[i] = T(vi);
              theta[i] = T(th - step_size * mi / (std::sqrt(vi) * inv_sqrt_bc2 + o.eps));
            }
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
