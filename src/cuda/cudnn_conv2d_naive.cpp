// The naive mixing baseline: materialize W = Σ c_i·W_i (and b) into scratch with the fused
// backend's ops::cuda::materialize, then plain cuDNN; backward writes full dW, db into scratch
// and splits them into the parents (split_gradient, src/cuda/split_gradient.cu).
#include <cstddef>

#include "cudnn_conv2d_detail.hpp"
#include "modelmix/cuda/device_buffer.hpp"
#include "modelmix/cuda/runtime.hpp"
#include "modelmix/ops/cuda/conv2d.hpp"
#include "modelmix/ops/cudnn/conv2d.hpp"

namespace modelmix::ops::cudnn {

namespace {

// Per-thread scratch for the materialized filter/bias and the full gradients. Growing frees the
// old buffer, so the stream is drained first (queued work may still read it).
struct scratch {
  modelmix::cuda::device_buffer<float> weight, bias, grad_weight, grad_bias;

  static float* ensure(modelmix::cuda::device_buffer<float>& b, index_t n) {
    if (n <= 0) return nullptr;
    if (b.size() < std::size_t(n)) {
      modelmix::cuda::context::current().synchronize();
      b = modelmix::cuda::device_buffer<float>();
      b = modelmix::cuda::device_buffer<float>(std::size_t(n));
    }
    return b.data();
  }
  static scratch& current() {
    static thread_local scratch s;
    return s;
  }
};

void check(const char* op, const conv2d_problem& pb, const mixing::spec<float>& spec) {
  pb.validate();
  MODELMIX_REQUIRE(!spec.terms.empty(), op, ": the mix spec has no terms");
  MODELMIX_REQUIRE(spec.weight_numel == pb.K * pb.gemm_k(), op, ": mix spec weights have ", spec.weight_numel,
                   " elements but ", pb.str(), " needs ", pb.K * pb.gemm_k());
  MODELMIX_REQUIRE(spec.bias_numel == 0 || spec.bias_numel == pb.K, op, ": mix spec biases have ", spec.bias_numel,
                   " elements but ", pb.str(), " needs ", pb.K, " (or 0 for no bias)");
}

// W (and b) of the spec: the parent itself for a plain spec, else materialized into scratch.
struct mixed {
  const float* weight;
  const float* bias;
};
mixed materialized(const mixing::spec<float>& spec) {
  if (spec.is_plain()) return {spec.terms[0].weight, spec.has_bias() ? spec.terms[0].bias : nullptr};
  scratch& s = scratch::current();
  float* w = scratch::ensure(s.weight, spec.weight_numel);
  float* b = scratch::ensure(s.bias, spec.bias_numel);
  ops::cuda::materialize(spec, w, b);
  return {w, b};
}

}  // namespace

void conv2d_fprop_naive(const conv2d_problem& pb, const float* x, float* y, const mixing::spec<float>& spec) {
  check("cudnn::conv2d_fprop_naive", pb, spec);
  const mixed m = materialized(spec);
  detail::fprop(pb, x, m.weight, m.bias, y);
}

void conv2d_dgrad_naive(const conv2d_problem& pb, const float* dy, float* dx, const mixing::spec<float>& spec) {
  check("cudnn::conv2d_dgrad_naive", pb, spec);
  const mixed m = materialized(spec);
  detail::dgrad(pb, dy, m.weight, dx, 1.f);
}

void conv2d_wgrad_naive(const conv2d_problem& pb, const float* x, const float* dy, const mixing::spec<float>& spec) {
  check("cudnn::conv2d_wgrad_naive", pb, spec);
  const bool want_w = spec.wants_weight_grad();
  const bool want_b = spec.wants_bias_grad();
  if (!want_w && !want_b) return;
  const mixing::term<float>& t0 = spec.terms[0];
  if (spec.is_plain() && !t0.grad_coeff) {  // straight into the one parent's gradients (beta = 1)
    if (t0.grad_weight) detail::wgrad(pb, x, dy, t0.grad_weight, 1.f);
    if (spec.has_bias() && t0.grad_bias) detail::bgrad(pb, dy, t0.grad_bias, 1.f);
    return;
  }
  scratch& s = scratch::current();
  float* dw = want_w ? scratch::ensure(s.grad_weight, spec.weight_numel) : nullptr;
  float* db = want_b ? scratch::ensure(s.grad_bias, spec.bias_numel) : nullptr;
  if (dw) detail::wgrad(pb, x, dy, dw, 0.f);
  if (db) detail::bgrad(pb, dy, db, 0.f);
  split_gradient(spec, dw, db);
}

}  // namespace modelmix::ops::cudnn
