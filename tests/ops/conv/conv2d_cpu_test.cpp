// The CPU paths (fused and naive) against the plain-loop reference, role by role.
#include <catch2/catch.hpp>

#include <vector>

#include "modelmix/ops/cpu/conv2d.hpp"
#include "modelmix/ops/cpu/conv2d_naive.hpp"
#include "modelmix/ops/reference/conv2d.hpp"
#include "support/random.hpp"

using namespace modelmix;
using ops::conv2d_problem;

using test::max_relative_error;
using test::random_tensor;

namespace {

//                       N   C   H   W   K  R  S  pad_h pad_w stride_h stride_w
const conv2d_problem problems[] = {
    {1, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1},     // batch 1, odd H/W, K ≠ C
    {2, 2, 9, 8, 5, 3, 3, 0, 0, 2, 2},     // stride 2, no padding
    {2, 5, 11, 13, 3, 3, 3, 1, 1, 2, 2},   // stride 2, padding 1, odd sizes
    {3, 4, 6, 7, 2, 1, 1, 0, 0, 1, 1},     // pointwise: the input is the GEMM operand
    {2, 3, 5, 5, 6, 1, 1, 1, 1, 2, 2},     // 1×1 with padding and stride: im2col path
    {1, 2, 3, 3, 2, 3, 3, 0, 0, 1, 1},     // a single output pixel
    {2, 3, 8, 6, 5, 3, 1, 1, 0, 1, 2},     // R ≠ S, pad_h ≠ pad_w, stride_h ≠ stride_w
    {2, 8, 70, 67, 4, 3, 3, 1, 1, 1, 1},   // several row bands, a short last band
    {1, 16, 81, 77, 3, 3, 3, 1, 1, 2, 2},  // several row bands with stride 2
    {2, 40, 50, 60, 7, 1, 1, 0, 0, 1, 1},  // pointwise with several bands
    {1, 2, 4, 5, 3, 1, 1, 1, 1, 1, 1},     // stride 1, padded beyond the filter
    {2, 2, 3, 1, 3, 1, 1, 1, 1, 2, 2},     // W = 1: some output columns see only padding
};

// Parents, their gradients (pre-filled with noise to check +=) and the spec over them.
template <class T>
struct mixed_parents {
  std::vector<Tensor<T>> weight, bias, grad_weight, grad_bias, grad_coeff;
  mixing::spec<T> spec;

  mixed_parents(const conv2d_problem& pb, const std::vector<T>& coeffs, bool with_bias, unsigned seed) {
    for (std::size_t i = 0; i < coeffs.size(); ++i) {
      const unsigned s = seed + 10 * unsigned(i);
      weight.push_back(random_tensor<T>(pb.filter_shape(), s));
      bias.push_back(random_tensor<T>(pb.bias_shape(), s + 1));
      grad_weight.push_back(random_tensor<T>(pb.filter_shape(), s + 2));
      grad_bias.push_back(random_tensor<T>(pb.bias_shape(), s + 3));
      grad_coeff.push_back(random_tensor<T>(Shape{1}, s + 4));
    }
    spec.weight_numel = pb.K * pb.gemm_k();
    spec.bias_numel = with_bias ? pb.K : 0;
    for (std::size_t i = 0; i < coeffs.size(); ++i)
      spec.terms.push_back({weight[i].data(), with_bias ? bias[i].data() : nullptr, coeffs[i], grad_weight[i].data(),
                            with_bias ? grad_bias[i].data() : nullptr, grad_coeff[i].data()});
  }
  // Leave term i's gradients alone, as a parent bound without a gradient would be.
  void drop_grads(std::size_t i) {
    spec.terms[i].grad_weight = spec.terms[i].grad_bias = spec.terms[i].grad_coeff = nullptr;
  }
};

template <class T>
double worst_grad_error(const mixed_parents<T>& a, const mixed_parents<T>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.weight.size(); ++i) {
    worst = std::max(worst, max_relative_error(a.grad_weight[i], b.grad_weight[i]));
    worst = std::max(worst, max_relative_error(a.grad_bias[i], b.grad_bias[i]));
    worst = std::max(worst, max_relative_error(a.grad_coeff[i], b.grad_coeff[i]));
  }
  return worst;
}

const std::vector<std::vector<double>> coefficient_sets = {{1.0}, {0.7}, {0.3, 0.7}, {0.5, -0.2, 0.9}};

template <class T>
std::vector<T> as(const std::vector<double>& v) { return std::vector<T>(v.begin(), v.end()); }

template <class T>
constexpr double tolerance = std::is_same_v<T, float> ? 1e-4 : 1e-11;

}  // namespace

TEMPLATE_TEST_CASE("cpu conv2d matches the reference for fprop, dgrad and wgrad", "[ops][conv]", float, double) {
  using T = TestType;
  unsigned seed = 100;
  for (const conv2d_problem& pb : problems) {
    for (const auto& coeffs : coefficient_sets) {
      for (bool with_bias : {true, false}) {
        seed += 50;
        INFO(pb.str() << " terms=" << coeffs.size() << " c0=" << coeffs[0] << " bias=" << with_bias);
        const Tensor<T> x = random_tensor<T>(pb.input_shape(), seed);
        const Tensor<T> dy = random_tensor<T>(pb.output_shape(), seed + 1);
        mixed_parents<T> fast(pb, as<T>(coeffs), with_bias, seed + 2), ref(pb, as<T>(coeffs), with_bias, seed + 2);
        if (coeffs.size() == 3) {  // a parent without gradients is skipped, not zeroed
          fast.drop_grads(1);
          ref.drop_grads(1);
        }

        Tensor<T> y(pb.output_shape(), T(123)), y_ref(pb.output_shape());
        ops::cpu::conv2d_fprop(pb, x.data(), y.data(), fast.spec);
        ops::reference::conv2d_fprop(pb, x.data(), y_ref.data(), ref.spec);
        CHECK(max_relative_error(y, y_ref) < tolerance<T>);

        Tensor<T> dx = random_tensor<T>(pb.input_shape(), seed + 3), dx_ref = dx;
        ops::cpu::conv2d_dgrad(pb, dy.data(), dx.data(), fast.spec);
        ops::reference::conv2d_dgrad(pb, dy.data(), dx_ref.data(), ref.spec);
        CHECK(max_relative_error(dx, dx_ref) < tolerance<T>);

        ops::cpu::conv2d_wgrad(pb, x.data(), dy.data(), fast.spec);
        ops::reference::conv2d_wgrad(pb, x.data(), dy.data(), ref.spec);
        CHECK(worst_grad_error(fast, ref) < tolerance<T>);
        if (coeffs.size() == 3) {
          CHECK(fast.grad_weight[1].storage() == random_tensor<T>(pb.filter_shape(), seed + 2 + 10 + 2).storage());
          CHECK(fast.grad_coeff[1][0] == random_tensor<T>(Shape{1}, seed + 2 + 10 + 4)[0]);
        }
      }
    }
  }
}

TEST_CASE("fused and naive cpu conv2d agree to 1e-5 in float", "[ops][conv]") {
  unsigned seed = 900;
  for (const conv2d_problem& pb : problems) {
    for (const auto& coeffs : coefficient_sets) {
      seed += 50;
      INFO(pb.str() << " terms=" << coeffs.size());
      const Tensor<float> x = random_tensor<float>(pb.input_shape(), seed);
      const Tensor<float> dy = random_tensor<float>(pb.output_shape(), seed + 1);
      mixed_parents<float> fused(pb, as<float>(coeffs), true, seed + 2), naive(pb, as<float>(coeffs), true, seed + 2);

      Tensor<float> y(pb.output_shape()), y_naive(pb.output_shape());
      ops::cpu::conv2d_fprop(pb, x.data(), y.data(), fused.spec);
      ops::cpu::conv2d_fprop_naive(pb, x.data(), y_naive.data(), naive.spec);
      CHECK(max_relative_error(y, y_naive) <= 1e-5);

      Tensor<float> dx(pb.input_shape()), dx_naive(pb.input_shape());
      ops::cpu::conv2d_dgrad(pb, dy.data(), dx.data(), fused.spec);
      ops::cpu::conv2d_dgrad_naive(pb, dy.data(), dx_naive.data(), naive.spec);
      CHECK(max_relative_error(dx, dx_naive) <= 1e-5);

      ops::cpu::conv2d_wgrad(pb, x.data(), dy.data(), fused.spec);
      ops::cpu::conv2d_wgrad_naive(pb, x.data(), dy.data(), naive.spec);
      CHECK(worst_grad_error(fused, naive) <= 1e-5);
    }
  }
}

TEST_CASE("cpu conv2d rejects a spec that does not fit the problem", "[ops][conv]") {
  const conv2d_problem pb{1, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1};
  mixed_parents<float> parents(pb, {0.5f, 0.5f}, true, 1);
  Tensor<float> x(pb.input_shape()), y(pb.output_shape());
  mixing::spec<float> short_weights = parents.spec;
  short_weights.weight_numel = 10;
  CHECK_THROWS_WITH(ops::cpu::conv2d_fprop(pb, x.data(), y.data(), short_weights),
                    Catch::Contains("cpu::conv2d_fprop: mix spec weights have 10 elements") &&
                        Catch::Contains("needs 54"));
  mixing::spec<float> missing_bias = parents.spec;
  missing_bias.terms[1].bias = nullptr;
  CHECK_THROWS_WITH(ops::cpu::conv2d_fprop(pb, x.data(), y.data(), missing_bias),
                    Catch::Contains("term 1 has no bias"));
  CHECK_THROWS_WITH(ops::cpu::conv2d_fprop(pb, x.data(), y.data(), mixing::spec<float>{}),
                    Catch::Contains("has no terms"));
}
