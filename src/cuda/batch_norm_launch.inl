// The float launches of ops/cuda/batch_norm.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/batch_norm.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.
#include "modelmix/ops/cuda/batch_norm.cuh"
#include "modelmix/ops/cuda/kernel_count.hpp"

namespace modelmix::ops::cuda {

void batch_norm2d_forward(index_t N, index_t C, index_t HW, const float* x, const float* gamma, const float* beta,
                          float* running_mean, float* running_var, double momentum, double eps, bool training,
                          bool update, float* y, double* mean, double* rstd) {
  // Kernels index with int (CUDA.md rule 7); C is also the grid size.
  (void)kernel_count("batch_norm2d", {N, C, HW});
  (void)kernel_count("batch_norm2d", {C});
  if (C == 0) return;
  launch<batch_norm_forward_kernel::smem>(
      "batch_norm2d_forward", {int(C), 1, 1}, {batch_norm_threads, 1, 1},
      batch_norm_forward_kernel{x, gamma, beta, running_mean, running_var, momentum, eps, y, mean, rstd, int(N),
                                int(C), int(HW), training, training && update});
}

void batch_norm2d_backward(index_t N, index_t C, index_t HW, bool training, const float* g, const float* x,
                           const float* gamma, const double* mean, const double* rstd, float* gx, float* gg,
                           float* gb, bool assign_gx) {
  (void)kernel_count("batch_norm2d", {N, C, HW});
  (void)kernel_count("batch_norm2d", {C});
  if (C == 0 || (!gx && !gg && !gb)) return;
  launch<batch_norm_backward_kernel::smem>("batch_norm2d_backward", {int(C), 1, 1}, {batch_norm_threads, 1, 1},
                                           batch_norm_backward_kernel{g, x, gamma, mean, rstd, gx, gg, gb, int(N),
                                                                      int(C), int(HW), training, assign_gx});
}

}  // namespace modelmix::ops::cuda
