// The float launches of ops/cuda/softmax.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/softmax.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.
#include <climits>

#include "modelmix/core/error.hpp"
#include "modelmix/ops/cuda/softmax.cuh"

namespace modelmix::ops::cuda {
namespace {

// Kernels index with int (CUDA.md rule 7): a tensor of more than INT_MAX elements is refused.
void softmax_require_32bit(index_t N, index_t C, index_t S) {
  const bool fits = N >= 0 && C > 0 && S >= 0 &&
                    (N == 0 || S == 0 || (C <= index_t(INT_MAX) / N && S <= index_t(INT_MAX) / (N * C)));
  MODELMIX_REQUIRE(fits, "softmax_channels: [", N, ", ", C, ", ", S,
                   "] elements exceed the CUDA kernels' 32-bit indices (or have no channels)");
}

}  // namespace

void softmax_channels(const float* x, float* y, index_t N, index_t C, index_t S) {
  softmax_require_32bit(N, C, S);
  const int positions = int(N * S);
  if (positions == 0) return;
  launch<no_shared>("softmax_channels", elementwise_grid(positions), {softmax_threads, 1, 1},
                    softmax_kernel{x, y, int(N), int(C), int(S)});
}

void softmax_channels_backward(const float* g, const float* y, float* d, index_t N, index_t C, index_t S, bool assign) {
  softmax_require_32bit(N, C, S);
  const int positions = int(N * S);
  if (positions == 0) return;
  launch<no_shared>("softmax_channels_backward", elementwise_grid(positions), {softmax_threads, 1, 1},
                    softmax_backward_kernel{g, y, d, int(N), int(C), int(S), assign});
}

}  // namespace modelmix::ops::cuda
