#pragma once
// Stochastic gradient descent, step for step as torch.optim.SGD:
//
//   d = grad + weight_decay·θ                          (L2 weight decay)
//   momentum > 0:  buf = d on the first step, else buf = momentum·buf + (1 − dampening)·d
//                  d = nesterov ? d + momentum·buf : buf
//   θ ← θ − lr·d
//
// State: "momentum_buffer.<parameter>" per parameter when momentum > 0, on the device of its
// parameter. On a CUDA device the update is one kernel per parameter with the loop's double
// arithmetic (ops/cuda/optim.hpp): a step never leaves the device.
#include <cstdint>
#include <string>

#include "modelmix/ops/cuda/optim.hpp"
#include "modelmix/ops/dispatch.hpp"
#include "modelmix/optim/optimizer_state.hpp"
#include "modelmix/optim/parameter_list.hpp"

namespace modelmix::optim {

struct sgd_options {
  double lr = 1e-2;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};

template <class T>
class Sgd {
 public:
  static constexpr const char* kind = "sgd";

  explicit Sgd(named_parameters<T> params, sgd_options options = {}) : params_(std::move(params)), options_(options) {
    detail::check_parameter_list("Sgd", params_);
    MODELMIX_REQUIRE(options.lr >= 0, "Sgd: lr must be non-negative; got ", options.lr);
    MODELMIX_REQUIRE(options.momentum >= 0, "Sgd: momentum must be non-negative; got ", options.momentum);
    MODELMIX_REQUIRE(options.weight_decay >= 0, "Sgd: weight_decay must be non-negative; got ", options.weight_decay);
    MODELMIX_REQUIRE(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
                     "Sgd: nesterov needs momentum > 0 and dampening 0");
    if (options.momentum > 0)
      for (const auto& [name, p] : params_) momentum_.push_back(Tensor<T>::zeros(p->value.shape(), p->value.where()));
  }

  void zero_grad() {
    for (const auto& entry : params_) entry.second->zero_grad();
  }

  void step() {
    const sgd_options o = options_;
    const bool first = step_ == 0;
    for (std::size_t k = 0; k < params_.size(); ++k) {
      Parameter<T>& p = *params_[k].second;
      const device where = ops::device_of("Sgd", {p.value, p.grad});
      if (o.momentum > 0) detail::follow(momentum_[k], where);
      T* theta = p.value.data();
      const T* grad = p.grad.data();
      T* buf = o.momentum > 0 ? momentum_[k].data() : nullptr;
      const index_t n = p.numel();
      ops::run_on(
          "Sgd", where,
          [&] {
#pragma omp parallel for if (n > 32768)
            for (index_t i = 0; i < n; ++i) {
              double d = double(grad[i]) + o.weight_decay * double(theta[i]);
              if (buf) {
                const double b = first ? d : o.momentum * double(buf[i]) + (1 - o.dampening) * d;
                buf[i] = T(b);
                d = o.nesterov ? d + o.momentum * b : b;
              }
              theta[i] = T(double(theta[i]) - o.lr * d);
            }
          },
          MODELMIX_CUDA_FLOAT(T, "Sgd",
                              ops::cuda::sgd_step({.theta = theta, .grad = grad, .momentum_buffer = buf, .n = n,
                                                   .lr = o.lr, .momentum = o.momentum, .dampening = o.dampening,
                                                   .weight_decay = o.weight_decay, .nesterov = o.nesterov,
                                                   .first = first})));
    }
    ++step_;
  }

  [[nodiscard]] double lr() const { return options_.lr; }
  void set_lr(double lr) {
    MODELMIX_REQUIRE(lr >= 0, "Sgd: lr must be non-negative; got ", lr);
    options_.lr = lr;
  }
  [[nodiscard]] const sgd_options& options() const { return options_; }
  [[nodiscard]] std::int64_t step_count() const { return step_; }
  [[nodiscard]] const named_parameters<T>& parameters() const { return params_; }

  // A copy of the buffers where they live (optim/checkpoint.hpp copies them to the host to save).
  [[nodiscard]] optimizer_state<T> state() const {
    optimizer_state<T> s{kind, step_, {}};
    for (std::size_t k = 0; k < momentum_.size(); ++k) s.buffers.emplace(cat("momentum_buffer.", params_[k].first), momentum_[k]);
    return s;
  }
  // The buffers land on their parameter's device, wherever the state was saved from.
  void load_state(const optimizer_state<T>& s) {
    if (options_.momentum > 0) detail::check_state("Sgd", s, kind, params_, {"momentum_buffer"});
    else detail::check_state("Sgd", s, kind, params_, {});
    for (std::size_t k = 0; k < momentum_.size(); ++k)
      momentum_[k] = s.buffers.at(cat("momentum_buffer.", params_[k].first)).to(params_[k].second->value.where());
    step_ = s.step;
  }

 private:
  named_parameters<T> params_;
  sgd_options options_;
  std::vector<Tensor<T>> momentum_;
  std::int64_t step_ = 0;
};

}  // namespace modelmix::optim
