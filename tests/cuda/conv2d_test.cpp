// The fused mixed convolution (ops::cuda) against the CPU path and the cuDNN baselines, with
// 1, 2 and 3 parents, with and without bias, coefficient gradients and non-zero starting
// gradients (fprop overwrites, dgrad/wgrad accumulate). Tolerance: 1e-4 relative to the
// largest reference value of each tensor (coefficients: to Σ|dW·W_i| + Σ|db·b_i|).
#include <catch2/catch.hpp>

#include <vector>

#include "conv2d_cases.hpp"
#include "modelmix/cuda/runtime.hpp"
#include "modelmix/ops/cuda/conv2d.hpp"
#include "modelmix/ops/cudnn/conv2d.hpp"
#include "support/skip.hpp"

using namespace modelmix;
using ops::conv2d_problem;
namespace tc = modelmix::test::cuda;

namespace {

constexpr double tolerance = 1e-4;

tc::result run_fused(const tc::host_case& c) {
  return tc::run_device(
      c, [](const conv2d_problem& p, const float* x, float* y, const mixing::spec<float>& s) { ops::cuda::conv2d_fprop(p, x, y, s); },
      [](const conv2d_problem& p, const float* dy, float* dx, const mixing::spec<float>& s) { ops::cuda::conv2d_dgrad(p, dy, dx, s); },
      [](const conv2d_problem& p, const float* x, const float* dy, const mixing::spec<float>& s) {
        ops::cuda::conv2d_wgrad(p, x, dy, s);
      });
}

tc::result run_naive_cudnn(const tc::host_case& c) {
  return tc::run_device(
      c,
      [](const conv2d_problem& p, const float* x, float* y, const mixing::spec<float>& s) {
        ops::cudnn::conv2d_fprop_naive(p, x, y, s);
      },
      [](const conv2d_problem& p, const float* dy, float* dx, const mixing::spec<float>& s) {
        ops::cudnn::conv2d_dgrad_naive(p, dy, dx, s);
      },
      [](const conv2d_problem& p, const float* x, const float* dy, const mixing::spec<float>& s) {
        ops::cudnn::conv2d_wgrad_naive(p, x, dy, s);
      });
}

// A spec over the case's parents with host pointers only, for can_implement.
mixing::spec<float> host_spec(const tc::host_case& c) {
  mixing::spec<float> s;
  s.weight_numel = c.pb.K * c.pb.gemm_k();
  s.bias_numel = c.bias ? c.pb.K : 0;
  for (int i = 0; i < c.parents; ++i) s.terms.push_back({c.weight[i].data(), nullptr, c.coeff[i]});
  return s;
}

}  // namespace

TEST_CASE("fused kernels take the U-Net problems", "[cuda][fused]") {
  // can_implement is host logic: it needs no device. The 3×3 pad-1 layers must be taken; the
  // other shapes may fall back (reported).
  const auto problems = tc::unet_like_problems();
  for (std::size_t j = 0; j < problems.size(); ++j)
    for (int parents : {1, 2, 3}) {
      const tc::host_case c(problems[j], parents, true, 1);
      INFO(c.str());
      const bool taken = ops::cuda::can_implement(problems[j], host_spec(c));
      if (j < 3)
        CHECK(taken);
      else if (!taken)
        WARN("fused kernels refuse " << c.str());
    }
}

TEST_CASE("fused conv2d matches the CPU path", "[cuda][fused][gpu]") {
  const auto device = cuda::device_available();
  if (!device.available) MODELMIX_SKIP_TEST("no CUDA device: " + device.reason);
  INFO(device.device_name);
  unsigned seed = 1;
  for (const conv2d_problem& pb : tc::unet_like_problems())
    for (int parents : {1, 2, 3})
      for (bool bias : {true, false}) {
        const tc::host_case c(pb, parents, bias, seed++);
        if (!ops::cuda::can_implement(pb, host_spec(c))) {
          WARN("fused kernels refuse " << c.str());
          continue;
        }
        tc::check_results(c, run_fused(c), tc::run_cpu(c), tolerance, "fused vs cpu");
      }
}

TEST_CASE("naive mixing on cuDNN matches the CPU path and the fused kernels", "[cuda][fused][cudnn][gpu]") {
  const auto device = cuda::device_available();
  if (!device.available) MODELMIX_SKIP_TEST("no CUDA device: " + device.reason);
  const auto cudnn = ops::cudnn::available();
  if (!cudnn.available) MODELMIX_SKIP_TEST("cuDNN not usable: " + cudnn.reason);
  unsigned seed = 500;
  for (const conv2d_problem& pb : tc::unet_like_problems())
    for (int parents : {1, 2, 3})
      for (bool bias : {true, false}) {
        const tc::host_case c(pb, parents, bias, seed++);
        const tc::result naive = run_naive_cudnn(c);
        tc::check_results(c, naive, tc::run_cpu(c), tolerance, "naive cudnn vs cpu");
        if (ops::cuda::can_implement(pb, host_spec(c)))
          tc::check_results(c, run_fused(c), naive, tolerance, "fused vs naive cudnn");
      }
}

TEST_CASE("gradients reach only the pointers that ask for them", "[cuda][fused][gpu]") {
  const auto device = cuda::device_available();
  if (!device.available) MODELMIX_SKIP_TEST("no CUDA device: " + device.reason);
  // Two parents, the second frozen with a constant coefficient: its gradient pointers are null.
  const tc::host_case c({2, 16, 16, 16, 32, 3, 3, 1, 1, 1, 1}, 2, true, 77);
  using modelmix::cuda::device_buffer;
  const auto x = device_buffer<float>::from_host(c.x), dy = device_buffer<float>::from_host(c.dy);
  const auto w0 = device_buffer<float>::from_host(c.weight[0]), w1 = device_buffer<float>::from_host(c.weight[1]);
  const auto b0 = device_buffer<float>::from_host(c.bias_values[0]), b1 = device_buffer<float>::from_host(c.bias_values[1]);
  auto gw_fused = device_buffer<float>::from_host(c.grad_weight0[0]), gw_naive = device_buffer<float>::from_host(c.grad_weight0[0]);
  mixing::spec<float> s;
  s.weight_numel = c.pb.K * c.pb.gemm_k();
  s.bias_numel = c.pb.K;
  s.terms = {{w0.data(), b0.data(), c.coeff[0], gw_fused.data(), nullptr, nullptr}, {w1.data(), b1.data(), c.coeff[1]}};
  ops::cuda::conv2d_wgrad(c.pb, x.data(), dy.data(), s);
  // The CPU path with the same pointer pattern.
  std::vector<float> gw_cpu = c.grad_weight0[0];
  mixing::spec<float> h;
  h.weight_numel = s.weight_numel;
  h.bias_numel = s.bias_numel;
  h.terms = {{c.weight[0].data(), c.bias_values[0].data(), c.coeff[0], gw_cpu.data(), nullptr, nullptr},
             {c.weight[1].data(), c.bias_values[1].data(), c.coeff[1]}};
  ops::cpu::conv2d_wgrad(c.pb, c.x.data(), c.dy.data(), h);
  tc::check_close(gw_fused.to_host(), gw_cpu, tolerance, "fused grad_weight[0]");
  if (ops::cudnn::available().available) {
    s.terms[0].grad_weight = gw_naive.data();
    ops::cudnn::conv2d_wgrad_naive(c.pb, x.data(), dy.data(), s);
    tc::check_close(gw_naive.to_host(), gw_cpu, tolerance, "naive grad_weight[0]");
  }
}
