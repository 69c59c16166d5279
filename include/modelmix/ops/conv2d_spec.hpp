#pragma once
// The contract between a conv2d_problem and the mix_spec that feeds it, checked once at the
// entry of every backend (reference, cpu, naive) so a bad spec fails loudly instead of
// reading out of bounds:
//   every W_i has K·C·R·S elements, every b_i has K (or there is no bias at all),
//   and the pointers a role reads are present.
#include "modelmix/ops/conv2d_problem.hpp"
#include "modelmix/mixing/spec.hpp"

namespace modelmix::ops {

enum class conv2d_role { fprop, dgrad, wgrad };

template <class T>
void check_conv2d_spec(const char* op, const conv2d_problem& problem, const mixing::spec<T>& spec, conv2d_role role) {
  problem.validate();
  MODELMIX_REQUIRE(!spec.terms.empty(), op, ": the mix spec has no terms");
  MODELMIX_REQUIRE(spec.weight_numel == problem.K * problem.gemm_k(), op, ": mix spec weights have ",
                   spec.weight_numel, " elements but ", problem.str(), " needs ", problem.K * problem.gemm_k());
  MODELMIX_REQUIRE(spec.bias_numel == 0 || spec.bias_numel == problem.K, op, ": mix spec biases have ",
                   spec.bias_numel, " elements but ", problem.str(), " needs ", problem.K, " (or 0 for no bias)");
  for (std::size_t i = 0; i < spec.terms.size(); ++i) {
    const mixing::term<T>& t = spec.terms[i];
    // wgrad reads W_i only to form ∂L/∂c_i, so a term without a coefficient gradient may omit it.
    const bool reads_weight = role != conv2d_role::wgrad || t.grad_coeff != nullptr;
    MODELMIX_REQUIRE(!reads_weight || t.weight != nullptr, op, ": term ", i, " has no weight");
    const bool reads_bias = role == conv2d_role::fprop || (role == conv2d_role::wgrad && t.grad_coeff != nullptr);
    MODELMIX_REQUIRE(!spec.has_bias() || !reads_bias || t.bias != nullptr, op, ": term ", i,
                     " has no bias but the spec declares ", spec.bias_numel, " bias elements");
  }
}

}  // namespace modelmix::ops
