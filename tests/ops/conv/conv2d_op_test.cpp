// The differentiable conv2d op: gradients on every path, gradient policies, errors.
#include <catch2/catch.hpp>

#include <vector>

#include "modelmix/autograd/gradcheck.hpp"
#include "modelmix/ops/conv2d.hpp"
#include "support/random.hpp"

using namespace modelmix;
using autograd::gradcheck;
using autograd::named_parameter;
using ops::conv2d_options;
using ops::conv2d_path;

using test::max_relative_error;
using test::random_tensor;

namespace {

Var<double> sum_of(const Var<double>& y) {  // a scalar loss for backward()
  Tape<double>& tape = y.tape();
  double s = 0;
  for (double v : y.value().span()) s += v;
  return tape.record("sum", Tensor<double>(Shape{1}, s), {y}, [&tape, y](const Tensor<double>& g) {
    if (Tensor<double>* gy = tape.grad_slot(y))
      for (double& v : gy->span()) v += g[0];
  });
}

const char* name(conv2d_path p) {
  return p == conv2d_path::fused ? "fused" : p == conv2d_path::naive ? "naive" : "reference";
}

}  // namespace

TEST_CASE("conv2d gradients match finite differences for the input, both parents and the coefficients",
          "[ops][conv][gradcheck]") {
  // Two parents with biases, stride 2 and padding 1, learnable coefficients.
  Parameter<double> wa(random_tensor<double>({3, 2, 3, 3}, 1)), wb(random_tensor<double>({3, 2, 3, 3}, 2));
  Parameter<double> ba(random_tensor<double>({3}, 3)), bb(random_tensor<double>({3}, 4));
  Parameter<double> ca(Tensor<double>(Shape{1}, 0.3)), cb(Tensor<double>(Shape{1}, 0.8));
  const Tensor<double> x = random_tensor<double>({2, 2, 5, 4}, 5);
  for (conv2d_path path : {conv2d_path::fused, conv2d_path::naive, conv2d_path::reference}) {
    INFO(name(path));
    auto f = [&](Tape<double>& tape, const std::vector<Var<double>>& in) {
      const std::vector<mixing::operand<double>> parents = {
          {tape.parameter(wa), tape.parameter(ba), tape.parameter(ca)},
          {tape.parameter(wb), tape.parameter(bb), tape.parameter(cb)}};
      return ops::conv2d(in[0], parents, {.stride = 2, .padding = 1, .path = path});
    };
    const auto r = gradcheck(f, {x}, {{"wa", &wa}, {"ba", &ba}, {"ca", &ca}, {"wb", &wb}, {"bb", &bb}, {"cb", &cb}});
    INFO(r.report);
    CHECK(r.ok);
    CHECK(r.checked == std::size_t(x.numel() + 2 * (54 + 3 + 1)));
  }
}

TEST_CASE("conv2d gradients for three bias-free pointwise parents, one of them bound twice", "[ops][conv][gradcheck]") {
  Parameter<double> w0(random_tensor<double>({4, 3, 1, 1}, 11)), w1(random_tensor<double>({4, 3, 1, 1}, 12));
  Parameter<double> c0(Tensor<double>(Shape{1}, 0.5)), c1(Tensor<double>(Shape{1}, -0.25)), c2(Tensor<double>(Shape{1}, 0.75));
  const Tensor<double> x = random_tensor<double>({1, 3, 3, 5}, 13);
  for (conv2d_path path : {conv2d_path::fused, conv2d_path::naive}) {
    INFO(name(path));
    auto f = [&](Tape<double>& tape, const std::vector<Var<double>>& in) {
      const std::vector<mixing::operand<double>> parents = {{tape.parameter(w0), {}, tape.parameter(c0)},
                                                        {tape.parameter(w1), {}, tape.parameter(c1)},
                                                        {tape.parameter(w0), {}, tape.parameter(c2)}};
      return ops::conv2d(in[0], parents, {.path = path});
    };
    const auto r = gradcheck(f, {x}, {{"w0", &w0}, {"w1", &w1}, {"c0", &c0}, {"c1", &c1}, {"c2", &c2}});
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("a parent bound as a constant gets no gradient; the host gets c·dW", "[ops][conv]") {
  const double lambda = 0.35;
  Parameter<double> host_w(random_tensor<double>({4, 3, 3, 3}, 21)), host_b(random_tensor<double>({4}, 22));
  Parameter<double> partner_w(random_tensor<double>({4, 3, 3, 3}, 23)), partner_b(random_tensor<double>({4}, 24));
  partner_w.grad = random_tensor<double>({4, 3, 3, 3}, 25);
  partner_b.grad = random_tensor<double>({4}, 26);
  const Tensor<double> partner_w_grad = partner_w.grad, partner_b_grad = partner_b.grad;
  const Tensor<double> x = random_tensor<double>({2, 3, 6, 7}, 27);

  for (conv2d_path path : {conv2d_path::fused, conv2d_path::naive, conv2d_path::reference}) {
    INFO(name(path));
    host_w.zero_grad();
    host_b.zero_grad();
    Tape<double> tape;
    const std::vector<mixing::operand<double>> parents = {
        {tape.parameter(host_w), tape.parameter(host_b), tape.constant(Tensor<double>(Shape{1}, lambda))},
        {tape.constant_ref(partner_w.value), tape.constant_ref(partner_b.value),
         tape.constant(Tensor<double>(Shape{1}, 1 - lambda))}};
    tape.backward(sum_of(ops::conv2d(tape.constant(x), parents, {.padding = 1, .path = path})));
    CHECK(partner_w.grad.storage() == partner_w_grad.storage());
    CHECK(partner_b.grad.storage() == partner_b_grad.storage());

    // The same loss through one materialized layer: the host's gradient is λ times its gradient.
    Tensor<double> w(host_w.shape()), b(host_b.shape());
    for (index_t j = 0; j < w.numel(); ++j) w[j] = lambda * host_w.value[j] + (1 - lambda) * partner_w.value[j];
    for (index_t j = 0; j < b.numel(); ++j) b[j] = lambda * host_b.value[j] + (1 - lambda) * partner_b.value[j];
    Tape<double> plain;
    Var<double> wv = plain.variable(w), bv = plain.variable(b);
    plain.backward(sum_of(ops::conv2d(plain.constant(x), wv, bv, {.padding = 1})));
    Tensor<double> expected_w = wv.grad(), expected_b = bv.grad();
    for (double& v : expected_w.span()) v *= lambda;
    for (double& v : expected_b.span()) v *= lambda;
    CHECK(max_relative_error(host_w.grad, expected_w) < 1e-12);
    CHECK(max_relative_error(host_b.grad, expected_b) < 1e-12);
  }
}

TEST_CASE("fused and naive conv2d ops agree to 1e-5 in float, values and gradients", "[ops][conv]") {
  Parameter<float> wa(random_tensor<float>({8, 5, 3, 3}, 31)), wb(random_tensor<float>({8, 5, 3, 3}, 32));
  Parameter<float> ba(random_tensor<float>({8}, 33)), bb(random_tensor<float>({8}, 34));
  Parameter<float> lambda(Tensor<float>(Shape{1}, 0.6f));
  const Tensor<float> x0 = random_tensor<float>({3, 5, 17, 19}, 35);
  struct result {
    Tensor<float> y, dx, dwa, dwb, dba, dbb, dlambda;
  };
  auto run = [&](conv2d_path path) {
    for (Parameter<float>* p : {&wa, &wb, &ba, &bb, &lambda}) p->zero_grad();
    Tape<float> tape;
    Var<float> x = tape.variable(x0);
    const std::vector<mixing::operand<float>> parents = {{tape.parameter(wa), tape.parameter(ba), tape.parameter(lambda)},
                                                     {tape.parameter(wb), tape.parameter(bb), tape.parameter(lambda)}};
    Var<float> y = ops::conv2d(x, parents, {.stride = 2, .padding = 1, .path = path});
    // L = Σ y ⊙ r, so every output element gets its own gradient.
    const Tensor<float> r = random_tensor<float>(y.shape(), 36);
    float s = 0;
    for (index_t i = 0; i < r.numel(); ++i) s += r[i] * y.value()[i];
    Var<float> loss = tape.record("dot", Tensor<float>(Shape{1}, s), {y}, [&tape, y, r](const Tensor<float>& g) {
      Tensor<float>* gy = tape.grad_slot(y);
      for (index_t i = 0; i < r.numel(); ++i) (*gy)[i] += g[0] * r[i];
    });
    tape.backward(loss);
    return result{y.value(), x.grad(), wa.grad, wb.grad, ba.grad, bb.grad, lambda.grad};
  };
  const result fused = run(conv2d_path::fused), naive = run(conv2d_path::naive);
  CHECK(max_relative_error(fused.y, naive.y) <= 1e-5);
  CHECK(max_relative_error(fused.dx, naive.dx) <= 1e-5);
  CHECK(max_relative_error(fused.dwa, naive.dwa) <= 1e-5);
  CHECK(max_relative_error(fused.dwb, naive.dwb) <= 1e-5);
  CHECK(max_relative_error(fused.dba, naive.dba) <= 1e-5);
  CHECK(max_relative_error(fused.dbb, naive.dbb) <= 1e-5);
  CHECK(max_relative_error(fused.dlambda, naive.dlambda) <= 1e-5);
}

TEST_CASE("plain conv2d (one weight, optional bias) matches the reference path", "[ops][conv]") {
  Tape<float> tape;
  Var<float> x = tape.constant(random_tensor<float>({2, 3, 9, 8}, 41));
  Var<float> w = tape.constant(random_tensor<float>({5, 3, 3, 3}, 42));
  Var<float> b = tape.constant(random_tensor<float>({5}, 43));
  for (bool with_bias : {true, false}) {
    const Var<float> bias = with_bias ? b : Var<float>{};
    Var<float> y = ops::conv2d(x, w, bias, {.stride = 2});
    Var<float> y_ref = ops::conv2d(x, w, bias, {.stride = 2, .path = conv2d_path::reference});
    CHECK(y.shape() == Shape{2, 5, 4, 3});
    CHECK(max_relative_error(y.value(), y_ref.value()) < 1e-5);
    CHECK_FALSE(y.requires_grad());
  }
  Parameter<float> wp(random_tensor<float>({5, 3, 3, 3}, 44));
  no_grad_guard guard;
  CHECK_FALSE(ops::conv2d(x, tape.parameter(wp), {}).requires_grad());
}

TEST_CASE("conv2d explains mismatched parents and inputs", "[ops][conv]") {
  Tape<float> tape;
  auto t = [&](Shape s) { return tape.constant(Tensor<float>(std::move(s), 0.5f)); };
  Var<float> x = t({1, 2, 6, 6}), c = t({1});
  const mixing::operand<float> a{t({3, 2, 3, 3}), t({3}), c};

  CHECK_THROWS_WITH(ops::conv2d(x, std::vector<mixing::operand<float>>{a, {t({3, 2, 1, 1}), t({3}), c}}),
                    Catch::Contains("conv2d: parent 1 weight has shape [3, 2, 1, 1] but parent 0 weight has shape "
                                    "[3, 2, 3, 3]"));
  CHECK_THROWS_WITH(ops::conv2d(t({1, 3, 6, 6}), std::vector<mixing::operand<float>>{a}),
                    Catch::Contains("input has 3 channels but weight [3, 2, 3, 3] expects 2"));
  CHECK_THROWS_WITH(ops::conv2d(x, std::vector<mixing::operand<float>>{a, {t({3, 2, 3, 3}), {}, c}}),
                    Catch::Contains("parent 1 has no bias but parent 0 has one"));
  CHECK_THROWS_WITH(ops::conv2d(x, std::vector<mixing::operand<float>>{a, {t({3, 2, 3, 3}), t({3}), t({2})}}),
                    Catch::Contains("parent 1 coefficient must have shape [1], got [2]"));
  CHECK_THROWS_WITH(ops::conv2d(x, t({3, 2, 3, 3}), t({4})),
                    Catch::Contains("bias has shape [4] but weight [3, 2, 3, 3] needs [3]"));
  CHECK_THROWS_WITH(ops::conv2d(x, std::vector<mixing::operand<float>>{}), Catch::Contains("conv2d: no parents"));
  CHECK_THROWS_WITH(ops::conv2d(x, t({3, 2, 7, 7}), {}), Catch::Contains("filter larger than padded input"));
  Tape<float> other;
  CHECK_THROWS_WITH(ops::conv2d(x, other.constant(Tensor<float>({3, 2, 3, 3})), {}),
                    Catch::Contains("parent 0 comes from a different tape"));
}
