// The float launches of ops/cuda/combine.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/combine.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "modelmix/ops/cuda/combine.cuh"
#include "modelmix/ops/cuda/kernel_count.hpp"

namespace modelmix::ops::cuda {
namespace {

// The spec's terms in chunks of at most combine_max_terms, in order (kernels index with int:
// a spec of more than INT_MAX elements is refused by kernel_count).
std::vector<combine_spec> combine_chunks(const mixing::spec<float>& spec) {
  (void)kernel_count("combine", {spec.weight_numel});
  std::vector<combine_spec> chunks;
  for (std::size_t first = 0; first < spec.terms.size(); first += combine_max_terms) {
    mixing::spec<float> part;
    part.weight_numel = spec.weight_numel;
    const std::size_t last = std::min(spec.terms.size(), first + std::size_t(combine_max_terms));
    part.terms.assign(spec.terms.begin() + std::ptrdiff_t(first), spec.terms.begin() + std::ptrdiff_t(last));
    chunks.push_back(mixing::to_kernel_spec<combine_max_terms>(part));
  }
  return chunks;
}

}  // namespace

void combine(const mixing::spec<float>& spec, float* out) {
  MODELMIX_REQUIRE(!spec.terms.empty(), "combine: no terms");
  const std::vector<combine_spec> chunks = combine_chunks(spec);
  const int n = int(spec.weight_numel);
  if (n == 0) return;
  for (std::size_t k = 0; k < chunks.size(); ++k)
    launch<no_shared>("combine", elementwise_grid(n), {combine_threads, 1, 1}, combine_kernel{chunks[k], out, k > 0});
}

void combine_backward(const mixing::spec<float>& spec, const float* g) {
  const int n = int(kernel_count("combine", {spec.weight_numel}));
  for (const combine_spec& chunk : combine_chunks(spec)) {
    bool weights = false, coeffs = false;
    for (int i = 0; i < chunk.count; ++i) {
      weights = weights || chunk.grad_weight[i];
      coeffs = coeffs || chunk.grad_coeff[i];
    }
    if (weights && n > 0)
      launch<no_shared>("combine_backward", elementwise_grid(n), {combine_threads, 1, 1}, combine_grad_kernel{chunk, g});
    if (coeffs)  // also for n = 0: adds 0, as the CPU
      launch<combine_coeff_kernel::smem>("combine_backward_coeff", {1, 1, 1}, {combine_threads, 1, 1},
                                         combine_coeff_kernel{chunk, g});
  }
}

}  // namespace modelmix::ops::cuda
