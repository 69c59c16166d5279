// The comparison harness of the CUDA tests, checked on the host: it accepts the CPU naive path
// against the CPU fused path and rejects a small perturbation of any output.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "conv2d_cases.hpp"
#include "modelmix/ops/cpu/conv2d_naive.hpp"

namespace tc = modelmix::test::cuda;
using namespace modelmix;

TEST_CASE("the CUDA comparison harness accepts agreeing paths and rejects perturbed ones", "[cuda][harness]") {
  unsigned seed = 9;
  for (const ops::conv2d_problem& pb : {tc::unet_like_problems()[3], tc::unet_like_problems()[4]})
    for (int parents : {1, 3})
      for (bool bias : {true, false}) {
        const tc::host_case c(pb, parents, bias, seed++);
        INFO(c.str());
        const tc::result want = tc::run_cpu(c);
        const tc::result naive = tc::run_host(
            c, [](auto&&... a) { ops::cpu::conv2d_fprop_naive(a...); },
            [](auto&&... a) { ops::cpu::conv2d_dgrad_naive(a...); },
            [](auto&&... a) { ops::cpu::conv2d_wgrad_naive(a...); });
        const tc::discrepancy ok = tc::compare(c, naive, want);
        INFO("naive vs fused CPU: " << ok.worst << " at " << ok.where);
        CHECK(ok.worst <= 1e-5);

        tc::result bad = want;
        bad.y[bad.y.size() / 2] += 1e-2f;
        CHECK(tc::compare(c, bad, want).worst > 1e-4);
        bad = want;
        float max_gw = 0;
        for (float v : want.grad_weight.back()) max_gw = std::max(max_gw, std::abs(v));
        bad.grad_weight.back()[0] += 1e-3f * max_gw;
        CHECK(tc::compare(c, bad, want).worst > 1e-4);
        bad = want;
        bad.grad_coeff[0] += 1e-3f * tc::coeff_scales(c)[0];
        CHECK(tc::compare(c, bad, want).worst > 1e-4);
      }
}
