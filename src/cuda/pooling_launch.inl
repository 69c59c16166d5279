// The float launches of ops/cuda/pooling.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/pooling.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.

#include "modelmix/core/error.hpp"
#include "modelmix/ops/cuda/kernel_count.hpp"
#include "modelmix/ops/cuda/pooling.cuh"

namespace modelmix::ops::cuda {
namespace {

// Kernels index with int (CUDA.md rule 7): an input of more elements is refused by name. The
// output is smaller than the input, so every index a kernel forms fits.
void pooling_check(const char* op, index_t planes, index_t H, index_t W, index_t Ho, index_t Wo) {
  MODELMIX_REQUIRE(planes >= 0 && Ho >= 0 && Wo >= 0 && 2 * Ho <= H && 2 * Wo <= W, op, ": output ", Ho, "×", Wo,
                   " does not fit a 2×2 pooling of ", H, "×", W);
  kernel_count(op, {planes, H, W});
}

}  // namespace

void max_pool2d(const float* x, float* y, std::uint8_t* argmax, index_t planes, index_t H, index_t W, index_t Ho,
                index_t Wo) {
  pooling_check("max_pool2d", planes, H, W, Ho, Wo);
  const int n = int(planes * Ho * Wo);
  if (n == 0) return;
  launch<no_shared>("max_pool2d", elementwise_grid(n), {elementwise_threads, 1, 1},
                    max_pool2d_kernel{x, y, argmax, int(H), int(W), int(Ho), int(Wo), n});
}

void max_pool2d_backward(const float* g, const std::uint8_t* argmax, float* d, index_t planes, index_t H, index_t W,
                         index_t Ho, index_t Wo, bool assign) {
  pooling_check("max_pool2d_backward", planes, H, W, Ho, Wo);
  const int n = int(planes * H * W);
  if (n == 0) return;
  launch<no_shared>("max_pool2d_backward", elementwise_grid(n), {elementwise_threads, 1, 1},
                    max_pool2d_backward_kernel{g, argmax, d, int(H), int(W), int(Ho), int(Wo), n, assign});
}

}  // namespace modelmix::ops::cuda
