// The float launches of ops/cuda/upsample.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/upsample.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.

#include "modelmix/core/error.hpp"
#include "modelmix/ops/cuda/kernel_count.hpp"
#include "modelmix/ops/cuda/upsample.cuh"

namespace modelmix::ops::cuda {
namespace {

// Kernels index with int (CUDA.md rule 7): an output of more elements than that is refused by
// name. Returns the input's element count (the output has 4× as many).
int upsample_input_count(const char* op, index_t planes, index_t H, index_t W) {
  return kernel_count(op, {planes, 2 * H, 2 * W}) / 4;
}

}  // namespace

void upsample_nearest2x(const float* x, float* y, index_t planes, index_t H, index_t W) {
  const int n = upsample_input_count("upsample_nearest2x", planes, H, W);
  if (n == 0) return;
  launch<no_shared>("upsample_nearest2x", elementwise_grid(4 * n), {elementwise_threads, 1, 1},
                    upsample_nearest2x_kernel{x, y, int(H), int(W), 4 * n});
}

void upsample_nearest2x_backward(const float* g, float* d, index_t planes, index_t H, index_t W, bool assign) {
  const int n = upsample_input_count("upsample_nearest2x_backward", planes, H, W);
  if (n == 0) return;
  launch<no_shared>("upsample_nearest2x_backward", elementwise_grid(n), {elementwise_threads, 1, 1},
                    upsample_nearest2x_backward_kernel{g, d, int(W), n, assign});
}

void upsample_bilinear2x(const float* x, float* y, index_t planes, index_t H, index_t W) {
  const int n = upsample_input_count("upsample_bilinear2x", planes, H, W);
  if (n == 0) return;
  launch<no_shared>("upsample_bilinear2x", elementwise_grid(4 * n), {elementwise_threads, 1, 1},
                    upsample_bilinear2x_kernel{x, y, int(H), int(W), 4 * n});
}

void upsample_bilinear2x_backward(const float* g, float* d, index_t planes, index_t H, index_t W) {
  const int n = upsample_input_count("upsample_bilinear2x_backward", planes, H, W);
  if (n == 0) return;
  launch<no_shared>("upsample_bilinear2x_backward", elementwise_grid(n), {elementwise_threads, 1, 1},
                    upsample_bilinear2x_backward_kernel{g, d, int(H), int(W), n});
}

}  // namespace modelmix::ops::cuda
