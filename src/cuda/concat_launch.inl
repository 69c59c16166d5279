// The float launches of ops/cuda/concat.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/concat.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.

#include "modelmix/core/error.hpp"
#include "modelmix/ops/cuda/kernel_count.hpp"
#include "modelmix/ops/cuda/concat.cuh"

namespace modelmix::ops::cuda {
namespace {

void concat_launch(const concat_block_kernel& k) {
  const int n = k.N * k.block;
  if (n == 0) return;
  launch<no_shared>("concat_channels", elementwise_grid(n), {concat_threads, 1, 1}, k);
}

}  // namespace

void concat_channels(const float* const* xs, const index_t* block, std::size_t count, float* y, index_t N,
                     index_t out_block) {
  kernel_count("concat_channels", {N, out_block});
  index_t offset = 0;
  for (std::size_t k = 0; k < count; ++k) {
    MODELMIX_REQUIRE(block[k] >= 0 && offset + block[k] <= out_block, "concat_channels: input ", k, "'s block of ",
                     block[k], " elements does not fit the output's ", out_block, " at offset ", offset);
    concat_launch({xs[k], y, int(N), int(out_block), int(offset), int(block[k]), false, false});
    offset += block[k];
  }
}

void concat_channels_backward(const float* g, float* dst, index_t N, index_t out_block, index_t offset, index_t block,
                              bool assign) {
  kernel_count("concat_channels", {N, out_block});
  MODELMIX_REQUIRE(offset >= 0 && block >= 0 && offset + block <= out_block, "concat_channels: the block of ", block,
                   " elements at offset ", offset, " does not fit the output's ", out_block);
  concat_launch({g, dst, int(N), int(out_block), int(offset), int(block), true, assign});
}

}  // namespace modelmix::ops::cuda
