// The direct (no-im2col) stride-1 kernel against the plain-loop reference, called directly so
// every case runs it whatever the dispatch policy picks. Widths are set relative to the
// vector width of the build, so the tails (a row cut inside a vector, a channel block cut
// by K or C) are hit under AVX2 and AVX-512 alike.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "modelmix/ops/cpu/conv2d.hpp"
#include "modelmix/ops/cpu/conv2d_direct_narrow.hpp"
#include "modelmix/ops/reference/conv2d.hpp"
#include "support/random.hpp"

using namespace modelmix;
using ops::conv2d_problem;
using test::max_relative_error;
using test::random_tensor;

#if MODELMIX_HAS_DIRECT_CONV

namespace {

template <class T>
std::vector<conv2d_problem> direct_problems() {
  const index_t v = ops::cpu::direct::lanes<T>;
  //       N  C  H       W              K   R  S  pad_h pad_w stride
  return {{1, 1, 9, 2 * v, 16, 3, 3, 1, 1, 1, 1},            // one input channel (the first layer)
          {2, 3, 7, 2 * v + 3, 5, 3, 3, 1, 1, 1, 1},         // K cut inside a block, Q cut inside a vector
          {1, 4, 6, 4 * v + 1, 9, 3, 3, 0, 0, 1, 1},         // unpadded: Q = W − 2
          {3, 2, 11, 3 * v, 8, 5, 5, 2, 2, 1, 1},            // 5×5, three batches
          {1, 5, 8, 5 * v - 1, 3, 3, 5, 1, 2, 1, 1},         // R ≠ S, pad_h ≠ pad_w
          {2, 9, 40, 7 * v + 5, 12, 3, 3, 1, 1, 1, 1},       // several bands, full and partial tiles
          {1, 3, 5, 2 * v, 4, 3, 3, 2, 2, 1, 1},             // padding beyond the filter's reach
          {2, 2, 6, 2 * v + 1, 3, 3, 7, 1, 3, 1, 1},          // a wide filter
          {3, 6, 5, v, 10, 3, 3, 1, 1, 1, 1},                // one vector per row: tiles span rows
          {2, 4, 7, v + 3, 4, 3, 3, 1, 1, 1, 1},             // two vectors per row, the second cut
          {1, 3, 4, 4 * v, 5, 3, 3, 1, 1, 1, 1},             // 4 vectors per one-row band: tiles 2 + 2
          {1, 2, 4, 7 * v - 2, 6, 3, 3, 1, 1, 1, 1}};        // 7 per band: 3 + 2 + 2, the last cut
}

// Rows narrower than a vector (conv2d_direct_narrow.hpp): channels in the lanes, cut inside a
// block of narrow_width; tiles cut by the end of the batch; pixels of one tile from several rows
// and samples.
template <class T>
std::vector<conv2d_problem> narrow_problems() {
  const index_t v = ops::cpu::direct::lanes<T>, block = ops::cpu::direct::narrow_width<T>;
  //       N  C          H  W      K              R  S  pad_h pad_w stride
  return {{4, v, 8, v / 2, block, 3, 3, 1, 1, 1, 1},              // the U-Net's deepest level, one block
          {3, 2 * v + 3, 5, v - 1, block + 5, 3, 3, 1, 1, 1, 1},  // K cut inside the second block
          {1, v, 6, 3, 3 * block, 3, 3, 0, 0, 1, 1},              // unpadded: Q = W − 2
          {2, v + 1, 7, v - 3, v, 5, 5, 2, 2, 1, 1},              // 5×5, K one vector (half a block)
          {1, v, 4, v - 1, v + 1, 3, 5, 1, 2, 1, 1},              // R ≠ S, pad_h ≠ pad_w
          {2, 2 * v, 3, 1, v, 3, 3, 2, 2, 1, 1}};                 // padding beyond the filter's reach
}

// Each parent's weight and (optionally) bias.
template <class T>
std::pair<std::vector<Tensor<T>>, std::vector<Tensor<T>>> random_parents(const conv2d_problem& pb, std::size_t terms,
                                                                          bool with_bias, unsigned seed) {
  std::vector<Tensor<T>> w, b;
  for (std::size_t i = 0; i < terms; ++i) {
    w.push_back(random_tensor<T>(pb.filter_shape(), seed + 2 * unsigned(i)));
    if (with_bias) b.push_back(random_tensor<T>(pb.bias_shape(), seed + 2 * unsigned(i) + 1));
  }
  return {std::move(w), std::move(b)};
}

template <class T>
mixing::spec<T> mixed_spec(const conv2d_problem& pb, const std::vector<Tensor<T>>& w, const std::vector<Tensor<T>>& b,
                           const std::vector<T>& coeffs) {
  mixing::spec<T> spec;
  spec.weight_numel = pb.K * pb.gemm_k();
  spec.bias_numel = b.empty() ? 0 : pb.K;
  for (std::size_t i = 0; i < coeffs.size(); ++i)
    spec.terms.push_back({w[i].data(), b.empty() ? nullptr : b[i].data(), coeffs[i], nullptr, nullptr, nullptr});
  return spec;
}

template <class T>
constexpr double tolerance = std::is_same_v<T, float> ? 2e-5 : 1e-12;
// wgrad sums over N·P·Q pixels (thousands) in T: the GEMM path's tests allow the same.
template <class T>
constexpr double wgrad_tolerance = std::is_same_v<T, float> ? 1e-4 : 1e-11;

}  // namespace

namespace {

// Every variant of a problem (one term or a mix of two, with and without bias, on one thread or
// all) through a kernel's fprop(pb, x, y, spec, threads, relu) and dgrad(pb, dy, dx, spec,
// threads, assign) against the reference: fprop overwrites y, and rectifies it when asked (the
// conv → BN → ReLU epilogue); dgrad accumulates into dx, or overwrites it when asked.
template <class T, class Fprop, class Dgrad>
void check_fprop_dgrad(const std::vector<conv2d_problem>& problems, unsigned seed, Fprop fprop, Dgrad dgrad) {
  for (const conv2d_problem& pb : problems) {
    for (const std::vector<T>& coeffs : {std::vector<T>{T(1)}, std::vector<T>{T(0.3), T(0.7)}}) {
      for (bool with_bias : {true, false}) {
        for (bool threads : {false, true}) {
          seed += 20;
          INFO(pb.str() << " terms=" << coeffs.size() << " bias=" << with_bias << " threads=" << threads);
          const auto [w, b] = random_parents<T>(pb, coeffs.size(), with_bias, seed);
          const mixing::spec<T> spec = mixed_spec(pb, w, b, coeffs);
          const Tensor<T> x = random_tensor<T>(pb.input_shape(), seed + 10);
          const Tensor<T> dy = random_tensor<T>(pb.output_shape(), seed + 11);

          Tensor<T> y(pb.output_shape(), T(123)), y_ref(pb.output_shape());
          fprop(pb, x.data(), y.data(), spec, threads, false);
          ops::reference::conv2d_fprop(pb, x.data(), y_ref.data(), spec);
          CHECK(max_relative_error(y, y_ref) < tolerance<T>);

          Tensor<T> y_relu(pb.output_shape(), T(123));
          fprop(pb, x.data(), y_relu.data(), spec, threads, true);
          for (index_t i = 0; i < y_ref.numel(); ++i) y_ref.data()[i] = std::max(y_ref.data()[i], T(0));
          CHECK(max_relative_error(y_relu, y_ref) < tolerance<T>);

          Tensor<T> dx = random_tensor<T>(pb.input_shape(), seed + 12), dx_ref = dx;
          dgrad(pb, dy.data(), dx.data(), spec, threads, false);
          ops::reference::conv2d_dgrad(pb, dy.data(), dx_ref.data(), spec);
          CHECK(max_relative_error(dx, dx_ref) < tolerance<T>);

          Tensor<T> dx_assigned(pb.input_shape(), T(123)), dx_fresh(pb.input_shape(), T(0));
          dgrad(pb, dy.data(), dx_assigned.data(), spec, threads, true);
          ops::reference::conv2d_dgrad(pb, dy.data(), dx_fresh.data(), spec);
          CHECK(max_relative_error(dx_assigned, dx_fresh) < tolerance<T>);
        }
      }
    }
  }
}

}  // namespace

TEMPLATE_TEST_CASE("direct stride-1 conv2d matches the reference in fprop and dgrad", "[ops][conv][direct]", float,
                   double) {
  using T = TestType;
  check_fprop_dgrad<T>(direct_problems<T>(), 7000, ops::cpu::conv2d_direct_fprop<T>, ops::cpu::conv2d_direct_dgrad<T>);
}

TEMPLATE_TEST_CASE("the narrow-row kernel (channels in the lanes) matches the reference in fprop and dgrad",
                   "[ops][conv][direct]", float, double) {
  using T = TestType;
  for (const conv2d_problem& pb : narrow_problems<T>()) REQUIRE(ops::cpu::narrow_conv_applies<T>(pb));
  check_fprop_dgrad<T>(narrow_problems<T>(), 8000, ops::cpu::conv2d_narrow_fprop<T>, ops::cpu::conv2d_narrow_dgrad<T>);
}

TEMPLATE_TEST_CASE("direct 3x3 wgrad matches the reference, into every parent's weight, bias and coefficient",
                   "[ops][conv][direct]", float, double) {
  using T = TestType;
  unsigned seed = 9000;
  // Images of at least direct::wgrad_min_pixels go in bands with per-thread partials (one case
  // here: 40 rows of 7 vectors), smaller ones (most, and every narrow one) over the whole batch.
  std::vector<conv2d_problem> problems = direct_problems<T>();
  for (const conv2d_problem& pb : narrow_problems<T>()) problems.push_back(pb);
  for (const conv2d_problem& pb : problems) {
    if (pb.R != 3 || pb.S != 3) continue;  // the kernel's filter (it runs in any build; the dispatch decides)
    for (const std::vector<T>& coeffs : {std::vector<T>{T(1)}, std::vector<T>{T(0.3), T(0.7)}}) {
      for (bool with_bias : {true, false}) {
        for (bool threads : {false, true}) {
          seed += 20;
          INFO(pb.str() << " terms=" << coeffs.size() << " bias=" << with_bias << " threads=" << threads);
          const auto [w, b] = random_parents<T>(pb, coeffs.size(), with_bias, seed);
          const Tensor<T> x = random_tensor<T>(pb.input_shape(), seed + 10);
          const Tensor<T> dy = random_tensor<T>(pb.output_shape(), seed + 11);
          // Gradients accumulate: both runs start from the same non-zero values.
          struct grads {
            std::vector<Tensor<T>> w, b;
            std::vector<T> c;
          } ours, ref;
          for (grads* g : {&ours, &ref}) {
            for (std::size_t i = 0; i < coeffs.size(); ++i) {
              g->w.push_back(random_tensor<T>(pb.filter_shape(), seed + 12));
              g->b.push_back(random_tensor<T>(pb.bias_shape(), seed + 13));
              g->c.push_back(T(0.25));
            }
          }
          auto spec_into = [&](grads& g) {
            mixing::spec<T> spec = mixed_spec(pb, w, b, coeffs);
            for (std::size_t i = 0; i < coeffs.size(); ++i) {
              spec.terms[i].grad_weight = g.w[i].data();
              spec.terms[i].grad_bias = with_bias ? g.b[i].data() : nullptr;
              spec.terms[i].grad_coeff = coeffs.size() > 1 ? &g.c[i] : nullptr;
            }
            return spec;
          };
          ops::cpu::conv2d_direct_wgrad(pb, x.data(), dy.data(), spec_into(ours), threads);
          ops::reference::conv2d_wgrad(pb, x.data(), dy.data(), spec_into(ref));
          for (std::size_t i = 0; i < coeffs.size(); ++i) {
            CHECK(max_relative_error(ours.w[i], ref.w[i]) < wgrad_tolerance<T>);
            CHECK(max_relative_error(ours.b[i], ref.b[i]) < wgrad_tolerance<T>);
            CHECK(std::abs(double(ours.c[i] - ref.c[i])) < 100 * wgrad_tolerance<T> * (1 + std::abs(double(ref.c[i]))));
          }
        }
      }
    }
  }
}

TEST_CASE("the CPU conv2d takes the direct kernel for stride-1 U-Net layers and the GEMM path elsewhere",
          "[ops][conv][direct]") {
  using ops::cpu::direct_conv_applies;
  const index_t v = ops::cpu::direct::lanes<float>;  // 4 (SSE2), 8 (AVX2) or 16 (AVX-512)
  //                                   N  C   H    W    K  R  S  pad  stride
  CHECK(direct_conv_applies<float>({4, 16, 128, 128, 16, 3, 3, 1, 1, 1, 1}));
  CHECK(direct_conv_applies<float>({4, 1, 128, 128, 16, 3, 3, 1, 1, 1, 1}));
  CHECK_FALSE(direct_conv_applies<float>({4, 16, 128, 128, 16, 3, 3, 1, 1, 2, 2}));  // strided
  CHECK_FALSE(direct_conv_applies<float>({4, 16, 128, 128, 4, 1, 1, 0, 0, 1, 1}));   // pointwise
  CHECK(direct_conv_applies<float>({4, 256, 16, 16, 256, 3, 3, 1, 1, 1, 1}));        // a deep 16² layer
  CHECK_FALSE(direct_conv_applies<float>({4, 256, v - 1, v - 1, 256, 3, 3, 1, 1, 1, 1}));  // rows narrower than a vector
  // … which the narrow kernel takes, given a vector of channels in and out
  CHECK(ops::cpu::narrow_conv_applies<float>({4, 256, v - 1, v - 1, 256, 3, 3, 1, 1, 1, 1}));
  CHECK(ops::cpu::narrow_conv_applies<float>({4, v, v / 2, v / 2, v, 3, 3, 1, 1, 1, 1}));
  CHECK_FALSE(ops::cpu::narrow_conv_applies<float>({4, v - 1, v / 2, v / 2, 256, 3, 3, 1, 1, 1, 1}));
  CHECK_FALSE(ops::cpu::narrow_conv_applies<float>({4, 256, v / 2, v / 2, 4, 3, 3, 1, 1, 1, 1}));  // 4 classes
  CHECK_FALSE(ops::cpu::narrow_conv_applies<float>({4, 256, 16, 16, 256, 3, 3, 1, 1, 1, 1}));
  CHECK_FALSE(ops::cpu::narrow_conv_applies<float>({4, 256, v / 2, v / 2, 256, 1, 1, 0, 0, 1, 1}));  // pointwise
  // wgrad: 3×3 only, on the layers either kernel takes, in AVX2 + FMA and AVX-512 builds
  const bool measured = ops::cpu::direct::wgrad_measured;
  CHECK(ops::cpu::direct_wgrad_applies<float>({4, 16, 128, 128, 16, 3, 3, 1, 1, 1, 1}) == measured);
  CHECK(ops::cpu::direct_wgrad_applies<float>({4, 128, 32, 32, 128, 3, 3, 1, 1, 1, 1}) == measured);
  CHECK(ops::cpu::direct_wgrad_applies<float>({4, 256, 16, 16, 256, 3, 3, 1, 1, 1, 1}) == measured);
  CHECK(ops::cpu::direct_wgrad_applies<float>({4, 512, v / 2, v / 2, 512, 3, 3, 1, 1, 1, 1}) == measured);
  CHECK_FALSE(ops::cpu::direct_wgrad_applies<float>({4, 512, v / 2, v / 2, 4, 3, 3, 1, 1, 1, 1}));
  CHECK_FALSE(ops::cpu::direct_wgrad_applies<float>({4, 16, 128, 128, 16, 5, 5, 2, 2, 1, 1}));
  CHECK_FALSE(ops::cpu::direct_wgrad_applies<float>({4, 16, 128, 128, 16, 3, 3, 1, 1, 2, 2}));
}

#else
TEST_CASE("direct stride-1 conv2d matches the reference in fprop and dgrad", "[ops][conv][direct]") {
  WARN("xsimd has no vector instruction set for this build: the CPU conv2d uses its GEMM path only");
}
#endif
