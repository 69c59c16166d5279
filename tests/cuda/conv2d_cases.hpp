#pragma once
// Shared by the CUDA tests: one mixed-convolution case (problem, parents, starting gradients)
// on the host, run through the CPU path (ops::cpu, the oracle here) or through any device
// implementation given as three callables, and compared with a relative tolerance.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "modelmix/cuda/device_buffer.hpp"
#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/conv2d_problem.hpp"
#include "modelmix/ops/cpu/conv2d.hpp"

namespace modelmix::test::cuda {

using ops::conv2d_problem;
using vec = std::vector<float>;

inline vec random_vec(std::size_t n, std::mt19937& rng, float scale) {
  std::uniform_real_distribution<float> d(-scale, scale);
  vec v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// Every gradient starts non-zero, so the accumulate (+=) contract is checked, not assumed.
struct host_case {
  conv2d_problem pb;
  int parents = 1;
  bool bias = true;
  vec x, dy, dx0;
  std::vector<vec> weight, bias_values, grad_weight0, grad_bias0;
  vec coeff, grad_coeff0;

  host_case(const conv2d_problem& problem, int n_parents, bool with_bias, unsigned seed)
      : pb(problem), parents(n_parents), bias(with_bias) {
    std::mt19937 rng(seed);
    const auto nx = std::size_t(pb.N * pb.C * pb.H * pb.W), ny = std::size_t(pb.N * pb.K * pb.P() * pb.Q());
    const auto nw = std::size_t(pb.K * pb.gemm_k()), nb = std::size_t(pb.K);
    const float wscale = 1.f / std::sqrt(float(pb.gemm_k()));
    x = random_vec(nx, rng, 1.f);
    dy = random_vec(ny, rng, 1.f);
    dx0 = random_vec(nx, rng, 0.5f);
    const float coeffs[3] = {0.3f, 0.7f, -0.45f};
    for (int i = 0; i < parents; ++i) {
      weight.push_back(random_vec(nw, rng, wscale));
      bias_values.push_back(bias ? random_vec(nb, rng, 0.5f) : vec());
      grad_weight0.push_back(random_vec(nw, rng, 0.5f));
      grad_bias0.push_back(bias ? random_vec(nb, rng, 0.5f) : vec());
      coeff.push_back(parents == 1 ? 1.f : coeffs[i]);
      grad_coeff0.push_back(0.25f * float(i + 1));
    }
  }
  [[nodiscard]] std::string str() const {
    return cat(pb.str(), " parents=", parents, bias ? " bias" : " no-bias");
  }
};

struct result {
  vec y, dx;
  std::vector<vec> grad_weight, grad_bias;
  vec grad_coeff;
};

// The spec over given parent/gradient pointers (host or device, as the backend expects).
inline mixing::spec<float> make_spec(const host_case& c, const std::vector<const float*>& w,
                                  const std::vector<const float*>& b, const std::vector<float*>& gw,
                                  const std::vector<float*>& gb, const std::vector<float*>& gc) {
  mixing::spec<float> s;
  s.weight_numel = c.pb.K * c.pb.gemm_k();
  s.bias_numel = c.bias ? c.pb.K : 0;
  for (int i = 0; i < c.parents; ++i)
    s.terms.push_back({w[i], c.bias ? b[i] : nullptr, c.coeff[i], gw[i], c.bias ? gb[i] : nullptr, gc[i]});
  return s;
}

// fprop(pb, x, y, spec), dgrad(pb, dy, dx, spec), wgrad(pb, x, dy, spec) on host pointers.
template <class Fprop, class Dgrad, class Wgrad>
result run_host(const host_case& c, Fprop fprop, Dgrad dgrad, Wgrad wgrad) {
  result r{vec(c.dy.size()), c.dx0, c.grad_weight0, c.grad_bias0, c.grad_coeff0};
  std::vector<const float*> w, b;
  std::vector<float*> gw, gb, gc;
  for (int i = 0; i < c.parents; ++i) {
    w.push_back(c.weight[i].data());
    b.push_back(c.bias_values[i].data());
    gw.push_back(r.grad_weight[i].data());
    gb.push_back(r.grad_bias[i].data());
    gc.push_back(&r.grad_coeff[i]);
  }
  const mixing::spec<float> s = make_spec(c, w, b, gw, gb, gc);
  fprop(c.pb, c.x.data(), r.y.data(), s);
  dgrad(c.pb, c.dy.data(), r.dx.data(), s);
  wgrad(c.pb, c.x.data(), c.dy.data(), s);
  return r;
}

// The oracle of these tests: the CPU path.
inline result run_cpu(const host_case& c) {
  return run_host(
      c, [](auto&&... a) { ops::cpu::conv2d_fprop(a...); }, [](auto&&... a) { ops::cpu::conv2d_dgrad(a...); },
      [](auto&&... a) { ops::cpu::conv2d_wgrad(a...); });
}

// fprop(pb, x, y, spec), dgrad(pb, dy, dx, spec), wgrad(pb, x, dy, spec) on device pointers.
template <class Fprop, class Dgrad, class Wgrad>
result run_device(const host_case& c, Fprop fprop, Dgrad dgrad, Wgrad wgrad) {
  using modelmix::cuda::device_buffer;
  const auto x = device_buffer<float>::from_host(c.x), dy = device_buffer<float>::from_host(c.dy);
  auto dx = device_buffer<float>::from_host(c.dx0);
  device_buffer<float> y(c.dy.size());
  auto gc = device_buffer<float>::from_host(c.grad_coeff0);
  std::vector<device_buffer<float>> w, b, gw, gb;
  std::vector<const float*> pw, pb;
  std::vector<float*> pgw, pgb, pgc;
  for (int i = 0; i < c.parents; ++i) {
    w.push_back(device_buffer<float>::from_host(c.weight[i]));
    b.push_back(device_buffer<float>::from_host(c.bias_values[i]));
    gw.push_back(device_buffer<float>::from_host(c.grad_weight0[i]));
    gb.push_back(device_buffer<float>::from_host(c.grad_bias0[i]));
  }
  for (int i = 0; i < c.parents; ++i) {
    pw.push_back(w[i].data());
    pb.push_back(b[i].data());
    pgw.push_back(gw[i].data());
    pgb.push_back(gb[i].data());
    pgc.push_back(gc.data() + i);
  }
  const mixing::spec<float> s = make_spec(c, pw, pb, pgw, pgb, pgc);
  fprop(c.pb, x.data(), y.data(), s);
  dgrad(c.pb, dy.data(), dx.data(), s);
  wgrad(c.pb, x.data(), dy.data(), s);
  result r;  // to_host synchronises the stream the work was queued on
  r.y = y.to_host();
  r.dx = dx.to_host();
  for (int i = 0; i < c.parents; ++i) {
    r.grad_weight.push_back(gw[i].to_host());
    r.grad_bias.push_back(gb[i].to_host());
  }
  r.grad_coeff = gc.to_host();
  return r;
}

// The worst error of a comparison, as a fraction of what is allowed at tolerance 1:
// max |got − want| / max |want| per tensor (a norm-wise bound: elementwise ratios blow up near 0).
struct discrepancy {
  double worst = 0;
  std::string where = "nothing";
  void add(double ratio, std::string what) {
    if (ratio > worst || !(ratio == ratio)) worst = ratio == ratio ? ratio : 1e300, where = std::move(what);
  }
};

inline double relative_error(const vec& got, const vec& want, std::string& detail) {
  if (got.size() != want.size()) {
    detail = cat("size ", got.size(), " vs ", want.size());
    return 1e300;
  }
  double max_err = 0, max_ref = 0;
  std::size_t worst = 0;
  for (std::size_t j = 0; j < got.size(); ++j) {
    const double e = std::abs(double(got[j]) - double(want[j]));
    if (e > max_err || !(e == e)) max_err = e == e ? e : 1e300, worst = j;
    max_ref = std::max(max_ref, std::abs(double(want[j])));
  }
  detail = cat("max error ", max_err, " at ", worst, " vs max |ref| ", max_ref);
  return max_err / std::max(max_ref, 1e-30);
}

inline void check_close(const vec& got, const vec& want, double tol, const std::string& what) {
  std::string detail;
  const double r = relative_error(got, want, detail);
  INFO(what << ": " << detail);
  CHECK(r <= tol);
}

// ∂L/∂c_i = ⟨dW, W_i⟩ + ⟨db, b_i⟩ is a sum that can cancel; its rounding scales with
// Σ_j |dW_j·W_ij| + Σ_k |db_k·b_ik|, the bound used here (dW, db from a plain CPU wgrad).
inline vec coeff_scales(const host_case& c) {
  vec dw(c.weight[0].size(), 0.f), db(c.bias ? std::size_t(c.pb.K) : 0, 0.f);
  mixing::spec<float> s;
  s.weight_numel = c.pb.K * c.pb.gemm_k();
  s.bias_numel = c.bias ? c.pb.K : 0;
  s.terms.push_back({c.weight[0].data(), c.bias ? c.bias_values[0].data() : nullptr, 1.f, dw.data(),
                     c.bias ? db.data() : nullptr, nullptr});
  ops::cpu::conv2d_wgrad(c.pb, c.x.data(), c.dy.data(), s);
  vec scales;
  for (int i = 0; i < c.parents; ++i) {
    double a = 0;
    for (std::size_t j = 0; j < dw.size(); ++j) a += std::abs(double(dw[j]) * c.weight[i][j]);
    for (std::size_t k = 0; k < db.size(); ++k) a += std::abs(double(db[k]) * c.bias_values[i][k]);
    scales.push_back(float(a) + std::abs(c.grad_coeff0[i]));
  }
  return scales;
}

inline discrepancy compare(const host_case& c, const result& got, const result& want) {
  discrepancy d;
  std::string detail;
  d.add(relative_error(got.y, want.y, detail), "y: " + detail);
  d.add(relative_error(got.dx, want.dx, detail), "dx: " + detail);
  const vec scales = coeff_scales(c);
  for (int i = 0; i < c.parents; ++i) {
    d.add(relative_error(got.grad_weight[i], want.grad_weight[i], detail), cat("grad_weight[", i, "]: ", detail));
    if (c.bias)
      d.add(relative_error(got.grad_bias[i], want.grad_bias[i], detail), cat("grad_bias[", i, "]: ", detail));
    const double e = std::abs(double(got.grad_coeff[i]) - double(want.grad_coeff[i]));
    d.add(e / scales[i], cat("grad_coeff[", i, "]: ", got.grad_coeff[i], " vs ", want.grad_coeff[i], ", scale ", scales[i]));
  }
  return d;
}

inline void check_results(const host_case& c, const result& got, const result& want, double tol,
                          const std::string& label) {
  const discrepancy d = compare(c, got, want);
  INFO(label << " on " << c.str() << ": worst " << d.worst << " (" << d.where << ")");
  CHECK(d.worst <= tol);
}

// U-Net-like layers kept small enough for the CPU oracle: 3×3 pad 1 at several widths, a
// stride-2 downsampling with ragged sizes, an unpadded 3×3, odd channel counts and the 1×1 head.
inline std::vector<conv2d_problem> unet_like_problems() {
  return {
      {2, 16, 32, 32, 16, 3, 3, 1, 1, 1, 1},  // encoder level 1
      {2, 32, 16, 16, 64, 3, 3, 1, 1, 1, 1},  // widening
      {1, 64, 8, 8, 32, 3, 3, 1, 1, 1, 1},    // narrowing (decoder)
      {2, 8, 17, 19, 16, 3, 3, 1, 1, 2, 2},   // stride 2, ragged
      {1, 3, 13, 11, 5, 3, 3, 0, 0, 1, 1},    // unpadded, odd channels
      {2, 16, 24, 24, 4, 1, 1, 0, 0, 1, 1},   // 1×1 head, 4 classes
  };
}

}  // namespace modelmix::test::cuda
