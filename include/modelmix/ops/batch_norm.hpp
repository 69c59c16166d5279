#pragma once
// Batch normalisation over the channels of NCHW, PyTorch's BatchNorm2d semantics.
//
//   x [N, C, H, W], gamma [C], beta [C], running_mean [C], running_var [C];  M = N·H·W
//   y[n,c,h,w] = γ_c · (x[n,c,h,w] − μ_c) · r_c + β_c,    r_c = 1 / sqrt(σ²_c + ε)
//
// training: μ_c, σ²_c are the batch mean and *biased* variance over (N, H, W); the running
//           stats move towards the batch with the *unbiased* variance:
//             running_mean ← (1−m)·running_mean + m·μ,  running_var ← (1−m)·running_var + m·σ²·M/(M−1)
//           (skipped when update_running_stats is false, e.g. for a virtual mixed model whose
//           host keeps its own statistics).
// eval:     μ_c, σ²_c are the running stats, read at the time of the call.
//
// Backward, with x̂ = (x − μ)·r and sums over (n, h, w) of channel c:
//   ∂β_c += Σ g      ∂γ_c += Σ g·x̂
//   ∂x    += γ_c·r_c·(g − Σg/M − x̂·Σ(g·x̂)/M)    training (the batch stats depend on x)
//   ∂x    += γ_c·r_c·g                           eval
// Statistics are accumulated in double; x̂ is recomputed in backward from the saved μ and r.
//
// batch_norm2d_relu is max(0, batch_norm2d(…)) as one op (the U-Net's BN → ReLU, through
// layers/conv_bn_relu.hpp): the normalised tensor is never stored — the tape keeps only the
// rectified output — and the backward applies ReLU's mask (where a·x + b > 0, recomputed from
// x with the forward's own expression) inside the BN backward's loops. Values and gradients are
// bit-identical to the two ops. On a device it is the two ops.
// The saved μ and r live where the input does: host vectors on the CPU, one device buffer
// [2C] of doubles (μ then r) on a device (kernels in ops/cuda/batch_norm.cuh), owned by the
// backward closure. The running statistics must live there too: on a device the kernel reads
// (eval) or updates (training) them in place.
#include <cmath>
#include <cstddef>
#include <memory>
#include <vector>

#include "modelmix/ops/activation.hpp"
#include "modelmix/ops/cpu/batch_norm.hpp"
#include "modelmix/ops/cuda/batch_norm.hpp"
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

// The running statistics a batch_norm2d call reads (eval) or updates (training). Holds
// references: the stats stay in the layer that owns them.
template <class T>
struct batch_norm_state {
  Tensor<T>& running_mean;  // [C]
  Tensor<T>& running_var;   // [C]
  T momentum = T(0.1);
  T eps = T(1e-5);
  bool update_running_stats = true;  // training only
};

namespace detail {
template <class T>
Var<T> batch_norm2d(const Var<T>& x, const Var<T>& gamma, const Var<T>& beta, const batch_norm_state<T>& state,
                    bool training, bool relu) {
  Tape<T>& tape = autograd::common_tape("batch_norm2d", {x, gamma, beta});
  const Shape& s = x.shape();
  detail::require_nchw("batch_norm2d", s);
  const index_t N = s[0], C = s[1], HW = s[2] * s[3], M = N * HW;
  const Shape per_channel{C};
  MODELMIX_REQUIRE(gamma.shape() == per_channel && beta.shape() == per_channel, "batch_norm2d: gamma ",
                   gamma.shape(), " and beta ", beta.shape(), " must both be ", per_channel, " for input ", s);
  MODELMIX_REQUIRE(state.running_mean.shape() == per_channel && state.running_var.shape() == per_channel,
                   "batch_norm2d: running_mean ", state.running_mean.shape(), " and running_var ",
                   state.running_var.shape(), " must both be ", per_channel, " for input ", s);
  MODELMIX_REQUIRE(!training || M > 1, "batch_norm2d: training needs more than one value per channel, got input ", s);

  const cpu::batch_norm_extents extents{N, C, HW};
  const device where = device_of("batch_norm2d", {x.value(), gamma.value(), beta.value(), state.running_mean,
                                                   state.running_var});
  std::vector<double> mean, rstd;        // on the CPU
  std::shared_ptr<double> device_stats;  // on a device: μ [C] then r [C] (shared: the closure is copyable)
  Tensor<T> y = Tensor<T>::empty(s, where);
  const bool update = training && state.update_running_stats;
  run_on(
      "batch_norm2d", where,
      [&] {
        mean.resize(static_cast<std::size_t>(C));
        rstd.resize(static_cast<std::size_t>(C));
        cpu::batch_norm2d_forward(extents, x.value().data(), gamma.value().data(), beta.value().data(),
                                  state.running_mean.data(), state.running_var.data(), double(state.momentum),
                                  double(state.eps), training, update, y.data(), mean.data(), rstd.data(), relu);
      },
      MODELMIX_CUDA_FLOAT(T, "batch_norm2d",
                          device_stats = std::shared_ptr<double>(
                              static_cast<double*>(modelmix::detail::device_allocate(
                                  2 * static_cast<std::size_t>(C) * sizeof(double))),
                              modelmix::detail::device_deleter{});
                          cuda::batch_norm2d_forward(N, C, HW, x.value().data(), gamma.value().data(),
                                                     beta.value().data(), state.running_mean.data(),
                                                     state.running_var.data(), double(state.momentum),
                                                     double(state.eps), training, update, y.data(),
                                                     device_stats.get(), device_stats.get() + C)));

  return tape.record(
      relu ? "batch_norm2d_relu" : "batch_norm2d", std::move(y), {x, gamma, beta},
      [&tape, x, gamma, beta, mean = std::move(mean), rstd = std::move(rstd), device_stats = std::move(device_stats),
       extents, training, relu](const Tensor<T>& g) {
        const gradient_sink<T> gx = tape.grad_target(x);
        Tensor<T>* gg = tape.grad_slot(gamma);
        Tensor<T>* gb = tape.grad_slot(beta);
        run_on(
            "batch_norm2d", g.where(),
            [&] {
              cpu::batch_norm2d_backward(extents, training, g.data(), x.value().data(), gamma.value().data(),
                                         mean.data(), rstd.data(), gx ? gx.slot->data() : nullptr,
                                         gg ? gg->data() : nullptr, gb ? gb->data() : nullptr, gx.assign,
                                         relu ? beta.value().data() : nullptr);
            },
            MODELMIX_CUDA_FLOAT(T, "batch_norm2d",
                                cuda::batch_norm2d_backward(extents.N, extents.C, extents.HW, training, g.data(),
                                                            x.value().data(), gamma.value().data(),
                                                            device_stats.get(), device_stats.get() + extents.C,
                                                            gx ? gx.slot->data() : nullptr, gg ? gg->data() : nullptr,
                                                            gb ? gb->data() : nullptr, gx.assign)));
      });
}
}  // namespace detail

template <class T>
Var<T> batch_norm2d(const Var<T>& x, const Var<T>& gamma, const Var<T>& beta, const batch_norm_state<T>& state,
                    bool training) {
  return detail::batch_norm2d(x, gamma, beta, state, training, false);
}

// max(0, batch_norm2d(x, …)) without storing the normalised tensor (see the header comment).
template <class T>
Var<T> batch_norm2d_relu(const Var<T>& x, const Var<T>& gamma, const Var<T>& beta, const batch_norm_state<T>& state,
                         bool training) {
  MODELMIX_REQUIRE(x.valid(), "batch_norm2d_relu: the input is an empty Var");
  if (x.value().where() != device::cpu) return relu(detail::batch_norm2d(x, gamma, beta, state, training, false));
  return detail::batch_norm2d(x, gamma, beta, state, training, true);
}

}  // namespace modelmix::ops
