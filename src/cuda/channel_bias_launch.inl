// The float launches of ops/cuda/channel_bias.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/channel_bias.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.
#include "modelmix/ops/cuda/channel_bias.cuh"
#include "modelmix/ops/cuda/kernel_count.hpp"

namespace modelmix::ops::cuda {

void add_channel_bias(const float* x, const float* b, float* y, index_t N, index_t C, index_t HW) {
  const int n = kernel_count("add_channel_bias", {N, C, HW});
  if (n == 0) return;
  launch<no_shared>("add_channel_bias", elementwise_grid(n), {elementwise_threads, 1, 1},
                    channel_bias_kernel{x, b, y, n, int(C), int(HW)});
}

void add_channel_bias_backward_bias(const float* g, float* gb, index_t N, index_t C, index_t HW) {
  if (kernel_count("add_channel_bias", {N, C, HW}) == 0) return;  // adds nothing (C = 0, or empty planes)
  launch<channel_bias_backward_kernel::smem>("add_channel_bias_backward_bias", {int(C), 1, 1},
                                             {channel_bias_threads, 1, 1},
                                             channel_bias_backward_kernel{g, gb, int(N), int(C), int(HW)});
}

}  // namespace modelmix::ops::cuda
