// The float launches of ops/cuda/mixup.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/mixup.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.
#include "modelmix/ops/cuda/kernel_count.hpp"
#include "modelmix/ops/cuda/mixup.cuh"

namespace modelmix::ops::cuda {

void mix_with_reversed(const float* x, float* out, const double* betas, index_t n, index_t per) {
  const int count = kernel_count("mix_with_reversed", {n, per});
  if (count == 0) return;
  launch<no_shared>("mix_with_reversed", elementwise_grid(count), {mixup_threads, 1, 1},
                    mix_with_reversed_kernel{x, out, betas, int(n), int(per), count});
}

void mix_with_reversed_backward(const float* g, float* gx, const double* betas, index_t n, index_t per) {
  const int count = kernel_count("mix_with_reversed", {n, per});
  if (count == 0) return;
  launch<no_shared>("mix_with_reversed_backward", elementwise_grid(count), {mixup_threads, 1, 1},
                    mix_with_reversed_backward_kernel{g, gx, betas, int(n), int(per), count});
}

}  // namespace modelmix::ops::cuda
