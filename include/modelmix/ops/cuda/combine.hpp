#pragma once
// ops::combine on a CUDA device, as the g++-compiled core calls it: float launches of the
// kernels in ops/cuda/combine.cuh (src/cuda/combine.cu; the emulated device in the tests).
// The same mix spec and contract as the CPU (mixing::weighted_sum, cpu::split_into_parents),
// over the spec's weights (θ_i, n = spec.weight_numel); biases are not read:
//
//   combine           out[j] = Σ_i c_i·θ_i[j], accumulated in float in term order (as the CPU)
//   combine_backward  grad_weight_i[j] += c_i·g[j]           (every non-null grad_weight)
//                     *grad_coeff_i    += float(⟨g, θ_i⟩)     (every non-null grad_coeff; the dot in
//                                                           double, summed in a fixed order)
//
// The pointers in the spec (θ_i, gradients) and out, g are device memory; the coefficients are
// the host values in the spec. Any number of terms (launched in chunks of combine_max_terms, in
// term order; aliased gradient pointers are added in term order, as on the CPU). Work is
// queued on the calling thread's cuda::context stream.
#include "modelmix/mixing/spec.hpp"

namespace modelmix::ops::cuda {

void combine(const mixing::spec<float>& spec, float* out);

void combine_backward(const mixing::spec<float>& spec, const float* g);

}  // namespace modelmix::ops::cuda
