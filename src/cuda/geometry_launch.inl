// The float launches of ops/cuda/geometry.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/geometry.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.
#include "modelmix/ops/cuda/geometry.cuh"
#include "modelmix/ops/cuda/kernel_count.hpp"

namespace modelmix::ops::cuda {

void rotate_planes(const float* x, float* y, index_t planes, index_t H, index_t W, double c, double s, float fill) {
  const int n = kernel_count("rotate", {planes, H, W});
  if (n == 0) return;
  launch<no_shared>("rotate", elementwise_grid(n), {geometry_threads, 1, 1},
                    rotate_kernel{x, y, n, int(H), int(W), c, s, fill});
}

void rotate_planes_backward(const float* g, float* d, index_t planes, index_t H, index_t W, double c, double s) {
  const int n = kernel_count("rotate_backward", {planes, H, W});
  if (n == 0) return;
  launch<no_shared>("rotate_backward", elementwise_grid(n), {geometry_threads, 1, 1},
                    rotate_backward_kernel{g, d, n, int(H), int(W), c, s});
}

void flip_into(const float* src, float* dst, index_t outer, index_t L, index_t inner, bool accumulate) {
  const int n = kernel_count("flip", {outer, L, inner});
  if (n == 0) return;
  launch<no_shared>(accumulate ? "flip_backward" : "flip", elementwise_grid(n), {geometry_threads, 1, 1},
                    flip_kernel{src, dst, n, int(L), int(inner), accumulate});
}

}  // namespace modelmix::ops::cuda
