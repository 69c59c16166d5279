// The fused mixed convolution's launches (src/cuda/mixed_conv2d_launch.inl, the GPU's launch code)
// and kernel bodies (include/modelmix/ops/cuda/*.cuh), run on the emulated device
// (tests/support/emu_device.cpp: the CPU grid emulator; host pointers are its device memory)
// against the plain-loop reference (ops/reference/conv2d.hpp, double sums).
// Tolerance: |got − want| ≤ tol · max(1, |want|) per element; fp32 sums of ≤ a few hundred
// products here, so 1e-4 (2e-4 for the coefficient gradients, sums over K·C·R·S elements).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "modelmix/ops/cuda/conv2d.hpp"
#include "modelmix/ops/cuda/mixed_conv2d_wgrad.cuh"
#include "modelmix/ops/reference/conv2d.hpp"

namespace {

using namespace modelmix;
using ops::conv2d_problem;
namespace kernels = modelmix::ops::cuda;

std::vector<float> random_vec(index_t n, unsigned seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (float& e : v) e = u(rng);
  return v;
}

// Element-wise check; names the first bad element (NaN counts as bad).
void require_close(const std::vector<float>& got, const std::vector<float>& want, double tol, const std::string& what) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(double(got[i]) - double(want[i])) / std::max(1.0, std::abs(double(want[i])));
    if (!(err <= tol)) {
      INFO(what << "[" << i << "]: got " << got[i] << ", want " << want[i] << " (of " << got.size() << ")");
      REQUIRE(err <= tol);
    }
  }
}

struct emu_case {
  const char* name;
  conv2d_problem p;
  int terms;
  bool bias;
};

// Tiny problems (the emulator runs 256 threads per block); every tile of 64 is ragged.
const std::vector<emu_case>& cases() {
  static const std::vector<emu_case> all = {
      {"3x3 pad 1 stride 1, 2 parents, bias", {2, 3, 7, 7, 5, 3, 3, 1, 1, 1, 1}, 2, true},
      {"3x3 pad 0 stride 2, 3 parents, no bias", {1, 4, 9, 8, 6, 3, 3, 0, 0, 2, 2}, 3, false},
      {"1x1 pad 0 stride 1, 1 parent (plain), bias", {2, 5, 5, 5, 7, 1, 1, 0, 0, 1, 1}, 1, true},
      {"1x1 stride 2, 8 parents, bias", {1, 3, 6, 6, 4, 1, 1, 0, 0, 2, 2}, 8, true},
      {"3x3 pad 1 stride 2, 8 parents, bias", {2, 3, 6, 6, 4, 3, 3, 1, 1, 2, 2}, 8, true},
      {"3x3 pad 1, K=70 C=8: two M tiles, 9 k steps, 2 parents, bias", {1, 8, 5, 5, 70, 3, 3, 1, 1, 1, 1}, 2, true},
      {"3x2 filter, pad 1x0, stride 2x1, 3 parents, bias", {2, 3, 7, 6, 5, 3, 2, 1, 0, 2, 1}, 3, true},
  };
  return all;
}

// The parents' parameters and coefficients (a single parent gets c = 1: a plain layer).
struct params {
  std::vector<std::vector<float>> w, b;
  std::vector<float> c;
  params(const conv2d_problem& p, int terms, bool bias, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (int i = 0; i < terms; ++i) {
      w.push_back(random_vec(p.K * p.C * p.R * p.S, seed + 10 + unsigned(i)));
      b.push_back(bias ? random_vec(p.K, seed + 30 + unsigned(i)) : std::vector<float>{});
      c.push_back(terms == 1 ? 1.f : u(rng));
    }
  }
};

// Per-parent gradient buffers, starting non-zero (catches = instead of +=).
struct grads {
  std::vector<std::vector<float>> gw, gb;
  std::vector<float> gc;
  grads(const conv2d_problem& p, int terms, unsigned seed) {
    for (int i = 0; i < terms; ++i) {
      gw.push_back(random_vec(p.K * p.C * p.R * p.S, seed + 50 + unsigned(i)));
      gb.push_back(random_vec(p.K, seed + 70 + unsigned(i)));
      gc.push_back(0.25f * float(i + 1));
    }
  }
};

// Which gradients the spec asks for.
//   all        every term: grad_weight, grad_bias, grad_coeff
//   weight     grad_weight/grad_bias only, W_i and b_i null (wgrad must not read them)
//   coeff      grad_coeff only
//   mixed      term i mod 3: 0 → like `weight`, 1 → like `coeff`, 2 → like `all`
//   none       nothing (wgrad is a no-op)
enum class want { all, weight, coeff, mixed, none };

mixing::spec<float> make_spec(const conv2d_problem& p, params& pr, grads* g, want mode) {
  mixing::spec<float> s;
  s.weight_numel = p.K * p.C * p.R * p.S;
  s.bias_numel = pr.b[0].empty() ? 0 : p.K;
  for (std::size_t i = 0; i < pr.w.size(); ++i) {
    mixing::term<float> t;
    t.weight = pr.w[i].data();
    t.bias = s.bias_numel ? pr.b[i].data() : nullptr;
    t.coeff = pr.c[i];
    if (g) {
      want m = mode;
      if (m == want::mixed) m = i % 3 == 0 ? want::weight : i % 3 == 1 ? want::coeff : want::all;
      if (m == want::all || m == want::weight) {
        t.grad_weight = g->gw[i].data();
        if (s.bias_numel) t.grad_bias = g->gb[i].data();
      }
      if (m == want::all || m == want::coeff) t.grad_coeff = &g->gc[i];
      if (m == want::weight) t.weight = t.bias = nullptr;
    }
    s.terms.push_back(t);
  }
  return s;
}

index_t y_numel(const conv2d_problem& p) { return p.N * p.K * p.P() * p.Q(); }
index_t x_numel(const conv2d_problem& p) { return p.N * p.C * p.H * p.W; }

void check_wgrad(const emu_case& tc, want mode, int splits, unsigned seed) {
  const conv2d_problem& p = tc.p;
  params pr(p, tc.terms, tc.bias, seed);
  const std::vector<float> x = random_vec(x_numel(p), seed + 1), dy = random_vec(y_numel(p), seed + 2);
  grads got(p, tc.terms, seed), ref(p, tc.terms, seed);
  const grads start = got;
  kernels::conv2d_wgrad(p, x.data(), dy.data(), make_spec(p, pr, &got, mode), splits);
  ops::reference::conv2d_wgrad(p, x.data(), dy.data(), make_spec(p, pr, &ref, mode));
  for (int i = 0; i < tc.terms; ++i) {
    const std::string term = " of term " + std::to_string(i);
    require_close(got.gw[std::size_t(i)], ref.gw[std::size_t(i)], 1e-4, "grad_weight" + term);
    require_close(got.gb[std::size_t(i)], ref.gb[std::size_t(i)], 1e-4, "grad_bias" + term);
  }
  require_close(got.gc, ref.gc, 2e-4, "grad_coeff");
  if (mode == want::none) {  // nothing may be touched at all
    for (int i = 0; i < tc.terms; ++i) REQUIRE(got.gw[std::size_t(i)] == start.gw[std::size_t(i)]);
    REQUIRE(got.gc == start.gc);
  }
}

}  // namespace

TEST_CASE("emu: mixed conv2d fprop matches the reference (overwrites y)", "[emu]") {
  unsigned seed = 100;
  for (const emu_case& tc : cases()) {
    INFO(tc.name << ": " << tc.p.str());
    const conv2d_problem& p = tc.p;
    params pr(p, tc.terms, tc.bias, seed);
    const mixing::spec<float> spec = make_spec(p, pr, nullptr, want::none);
    const std::vector<float> x = random_vec(x_numel(p), seed++);
    // y starts as NaN: an element the kernel does not write fails the comparison.
    std::vector<float> got(std::size_t(y_numel(p)), std::numeric_limits<float>::quiet_NaN()), want_y(got.size());
    kernels::conv2d_fprop(p, x.data(), got.data(), spec);
    ops::reference::conv2d_fprop(p, x.data(), want_y.data(), spec);
    require_close(got, want_y, 1e-4, "y");
  }
}

TEST_CASE("emu: mixed conv2d dgrad matches the reference (accumulates into dx)", "[emu]") {
  unsigned seed = 200;
  for (const emu_case& tc : cases()) {
    INFO(tc.name << ": " << tc.p.str());
    const conv2d_problem& p = tc.p;
    params pr(p, tc.terms, tc.bias, seed);
    const mixing::spec<float> spec = make_spec(p, pr, nullptr, want::none);
    const std::vector<float> dy = random_vec(y_numel(p), seed++);
    std::vector<float> got = random_vec(x_numel(p), seed++), want_dx = got;  // non-zero start
    kernels::conv2d_dgrad(p, dy.data(), got.data(), spec);
    ops::reference::conv2d_dgrad(p, dy.data(), want_dx.data(), spec);
    require_close(got, want_dx, 1e-4, "dx");
  }
}

TEST_CASE("emu: mixed conv2d wgrad: weight, bias and coefficient gradients (accumulate)", "[emu]") {
  unsigned seed = 300;
  for (const emu_case& tc : cases()) {
    INFO(tc.name << ": " << tc.p.str());
    check_wgrad(tc, want::all, 0, seed += 100);
  }
}

// [tsan-skip]: repeats the kernels above with other arguments; the TSan build skips it (time).
TEST_CASE("emu: mixed conv2d wgrad with gradients switched off per parent", "[emu][tsan-skip]") {
  unsigned seed = 1300;
  for (const std::size_t which : {std::size_t(3), std::size_t(6)}) {
    const emu_case& tc = cases()[which];
    for (const want mode : {want::mixed, want::weight, want::coeff, want::none}) {
      INFO(tc.name << ": " << tc.p.str() << ", gradient mode " << int(mode));
      check_wgrad(tc, mode, 0, seed += 100);
    }
  }
}

TEST_CASE("emu: mixed conv2d wgrad with forced split-K counts", "[emu][tsan-skip]") {
  unsigned seed = 2300;
  for (const int splits : {1, 3, 7}) {  // 98 columns = 13 BK steps: 1, 3 (5 steps each) or 7 splits
    INFO(cases()[0].name << ", splits " << splits);
    check_wgrad(cases()[0], want::all, splits, seed += 100);
  }
  INFO(cases()[5].name << ", splits 3 (asked; the plan caps it at its 4 BK steps)");
  check_wgrad(cases()[5], want::all, 3, seed += 100);
}

TEST_CASE("emu: mixed conv2d wgrad is bitwise reproducible", "[emu]") {
  const emu_case& tc = cases()[0];
  const conv2d_problem& p = tc.p;
  params pr(p, tc.terms, tc.bias, 7);
  const std::vector<float> x = random_vec(x_numel(p), 8), dy = random_vec(y_numel(p), 9);
  grads first(p, tc.terms, 10), second(p, tc.terms, 10);
  const int splits = ops::cuda::make_wgrad_plan(ops::cuda::make_conv_shape(p),
                                                mixing::to_kernel_spec<8>(make_spec(p, pr, &first, want::all)))
                         .splits;
  REQUIRE(splits > 1);  // the split-K partial sums are really exercised
  kernels::conv2d_wgrad(p, x.data(), dy.data(), make_spec(p, pr, &first, want::all));
  kernels::conv2d_wgrad(p, x.data(), dy.data(), make_spec(p, pr, &second, want::all));
  for (int i = 0; i < tc.terms; ++i) {
    const auto u = std::size_t(i);
    REQUIRE(std::memcmp(first.gw[u].data(), second.gw[u].data(), first.gw[u].size() * sizeof(float)) == 0);
    REQUIRE(std::memcmp(first.gb[u].data(), second.gb[u].data(), first.gb[u].size() * sizeof(float)) == 0);
  }
  REQUIRE(std::memcmp(first.gc.data(), second.gc.data(), first.gc.size() * sizeof(float)) == 0);
}

// [tsan-skip]: no barriers or shared memory; the ASan build runs it.
TEST_CASE("emu: materialize forms Σ c_i·W_i and Σ c_i·b_i (any number of terms)", "[emu][tsan-skip]") {
  const emu_case eleven{"3x3, 11 parents: two chunks of at most 8", {1, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1}, 11, true};
  for (const emu_case& tc : {cases()[0], cases()[1], cases()[3], eleven}) {
    INFO(tc.name);
    params pr(tc.p, tc.terms, tc.bias, 40 + unsigned(tc.terms));
    const mixing::spec<float> spec = make_spec(tc.p, pr, nullptr, want::none);
    std::vector<float> w(std::size_t(spec.weight_numel), std::numeric_limits<float>::quiet_NaN());
    std::vector<float> b(std::size_t(spec.bias_numel), std::numeric_limits<float>::quiet_NaN());
    kernels::materialize(spec, w.data(), b.data());
    std::vector<double> wd(w.size()), bd(b.size());
    mixing::weighted_sum(wd.data(), index_t(wd.size()), spec, &mixing::term<float>::weight);
    if (spec.has_bias()) mixing::weighted_sum(bd.data(), index_t(bd.size()), spec, &mixing::term<float>::bias);
    require_close(w, std::vector<float>(wd.begin(), wd.end()), 1e-6, "weight");
    require_close(b, std::vector<float>(bd.begin(), bd.end()), 1e-6, "bias");
  }
}

TEST_CASE("emu: host-side planning of the kernels", "[emu]") {
  using namespace ops::cuda;
  SECTION("the wgrad plan covers N·P·Q with non-empty splits of whole BK steps") {
    const conv2d_problem p{4, 3, 9, 9, 5, 3, 3, 1, 1, 1, 1};
    params pr(p, 2, true, 1);
    grads g(p, 2, 1);
    const conv_shape s = make_conv_shape(p);
    for (const int want_splits : {0, 1, 5, 1000}) {
      const wgrad_plan plan = make_wgrad_plan(s, mixing::to_kernel_spec<8>(make_spec(p, pr, &g, want::all)), want_splits);
      INFO("asked for " << want_splits << " splits, got " << plan.splits << " of " << plan.split_len);
      REQUIRE(plan.split_len % wgrad_tile::BK == 0);
      REQUIRE(plan.splits * plan.split_len >= s.NPQ());
      REQUIRE((plan.splits - 1) * plan.split_len < s.NPQ());
      REQUIRE(plan.gemm_grid.z == plan.splits);
      REQUIRE((plan.weight && plan.bias && plan.coeff));
      REQUIRE(plan.dot_rows == plan.reduce_blocks + s.K);
    }
    const wgrad_plan none = make_wgrad_plan(s, mixing::to_kernel_spec<8>(make_spec(p, pr, &g, want::none)));
    REQUIRE((!none.weight && !none.bias && !none.coeff));
  }
  SECTION("sizes beyond 32-bit indices are refused") {
    REQUIRE(fits_32bit(conv2d_problem{2, 3, 7, 7, 5, 3, 3, 1, 1, 1, 1}));
    REQUIRE_FALSE(fits_32bit(conv2d_problem{64, 256, 512, 512, 4, 3, 3, 1, 1, 1, 1}));
    REQUIRE_THROWS_AS(make_conv_shape(conv2d_problem{64, 256, 512, 512, 4, 3, 3, 1, 1, 1, 1}), modelmix::error);
  }
}
