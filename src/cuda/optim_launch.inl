// The float launches of ops/cuda/optim.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/optim.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.
#include <cstddef>

#include "modelmix/core/error.hpp"
#include "modelmix/cuda/runtime.hpp"
#include "modelmix/ops/cuda/kernel_count.hpp"
#include "modelmix/ops/cuda/optim.cuh"

namespace modelmix::ops::cuda {

void adam_step(const adam_step_args& a) {
  const int n = kernel_count("adam_step", {a.n});
  if (n == 0) return;
  launch<no_shared>("adam_step", elementwise_grid(n), {optim_threads, 1, 1},
                    adam_kernel{a.theta, a.grad, a.exp_avg, a.exp_avg_sq, n, a.step_size, a.inv_sqrt_bc2, a.shrink,
                                a.beta1, a.beta2, a.eps, a.weight_decay, a.l2});
}

void sgd_step(const sgd_step_args& a) {
  const int n = kernel_count("sgd_step", {a.n});
  if (n == 0) return;
  launch<no_shared>("sgd_step", elementwise_grid(n), {optim_threads, 1, 1},
                    sgd_kernel{a.theta, a.grad, a.momentum_buffer, n, a.lr, a.momentum, a.dampening, a.weight_decay,
                               a.nesterov, a.first});
}

void grad_norm(const grad_view* grads, int count, double* norm) {
  MODELMIX_REQUIRE(count >= 0, "grad_norm: negative gradient count ", count);
  for (int k = 0; k < count; ++k) (void)kernel_count("grad_norm", {grads[k].n});  // refuse before launching
  // Scratch in the thread's workspace (no allocation, no free, nothing to wait for): each
  // gradient's Σ g², then the partials of the gradient being reduced (reused gradient after
  // gradient: the launches run in stream order). Every slot is written before it is read.
  double* sq = static_cast<double*>(modelmix::cuda::context::current().workspace(
      (std::size_t(count) + std::size_t(norm_max_blocks)) * sizeof(double)));
  double* partial = sq + count;
  for (int k = 0; k < count; ++k) {
    const int n = int(grads[k].n);
    const int blocks = norm_blocks(n);
    if (blocks == 1) {
      launch<sum_squares_kernel::smem>("grad_norm_sum_squares", {1, 1, 1}, {norm_threads, 1, 1},
                                       sum_squares_kernel{grads[k].data, n, sq + k});
      continue;
    }
    launch<sum_squares_kernel::smem>("grad_norm_sum_squares", {blocks, 1, 1}, {norm_threads, 1, 1},
                                     sum_squares_kernel{grads[k].data, n, partial});
    launch<sum_partials_kernel::smem>("grad_norm_sum_partials", {1, 1, 1}, {norm_threads, 1, 1},
                                      sum_partials_kernel{partial, blocks, sq + k});
  }
  launch<no_shared>("grad_norm_total", {1, 1, 1}, {warp_size, 1, 1}, norm_total_kernel{sq, count, norm});
}

void clip_grads(const grad_view* grads, int count, const double* norm, double max_norm) {
  MODELMIX_REQUIRE(count >= 0, "clip_grads: negative gradient count ", count);
  for (int k = 0; k < count; ++k) (void)kernel_count("clip_grads", {grads[k].n});
  for (int k = 0; k < count; ++k) {
    const int n = int(grads[k].n);
    if (n == 0) continue;
    launch<no_shared>("clip_grads", elementwise_grid(n), {optim_threads, 1, 1},
                      clip_scale_kernel{grads[k].data, n, norm, max_norm});
  }
}

}  // namespace modelmix::ops::cuda
