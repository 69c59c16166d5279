// The float launch of ops/cuda/dropout.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/dropout.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.

#include "modelmix/core/error.hpp"
#include "modelmix/ops/cuda/kernel_count.hpp"
#include "modelmix/ops/cuda/dropout.cuh"

namespace modelmix::ops::cuda {

void dropout_apply(const float* in, float* out, bool accumulate, index_t n, float keep_scale, std::uint64_t seed_hash,
                   std::uint64_t threshold) {
  const int count = kernel_count("dropout", {n});
  if (count == 0) return;
  launch<no_shared>("dropout", elementwise_grid(count), {dropout_threads, 1, 1},
                    dropout_kernel{in, out, count, keep_scale, seed_hash, threshold, accumulate});
}

}  // namespace modelmix::ops::cuda
