// The float launches of ops/cuda/softmax.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/softmax.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.

#include "modelmix/core/error.hpp"
#include "modelmix/ops/cuda/kernel_count.hpp"
#include "modelmix/ops/cuda/softmax.cuh"

namespace modelmix::ops::cuda {

void softmax_channels(const float* x, float* y, index_t N, index_t C, index_t S) {
  if (kernel_count("softmax_channels", {N, C, S}) == 0) return;
  const int positions = int(N * S);
  launch<no_shared>("softmax_channels", elementwise_grid(positions), {softmax_threads, 1, 1},
                    softmax_kernel{x, y, int(N), int(C), int(S)});
}

void softmax_channels_backward(const float* g, const float* y, float* d, index_t N, index_t C, index_t S, bool assign) {
  if (kernel_count("softmax_channels_backward", {N, C, S}) == 0) return;
  const int positions = int(N * S);
  launch<no_shared>("softmax_channels_backward", elementwise_grid(positions), {softmax_threads, 1, 1},
                    softmax_backward_kernel{g, y, d, int(N), int(C), int(S), assign});
}

}  // namespace modelmix::ops::cuda
