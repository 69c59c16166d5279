// Layer-level mixing: the views against layers whose parameters were interpolated by hand,
// gradients (input, both parents, learnable coefficients), gradient policies, BN statistics
// policies, N-way soups and error messages.
#include <catch2/catch.hpp>

#include "layer_test_support.hpp"

using namespace modelmix;
using namespace modelmix::layers;
using modelmix::test::bitwise_equal;
using modelmix::test::forward_value;
using modelmix::test::lerp;
using modelmix::test::max_abs_difference;
using modelmix::test::random_tensor;

namespace {

conv2d_options conv_opts(index_t stride = 1, index_t padding = 1, bool bias = true) {
  return {.in_channels = 3, .out_channels = 4, .kernel_size = 3, .stride = stride, .padding = padding, .bias = bias};
}

// A layer whose parameters are Σ c_i·θ_i, written out: what the views must equal.
template <class L>
L interpolated(const std::vector<L*>& parents, const std::vector<double>& c) {
  L out = *parents[0];
  std::vector<Parameter<typename L::value_type>*> dst;
  for_each_parameter(out, [&](const std::string&, auto& p) { dst.push_back(&p); });
  for (auto& p : dst) p->value.zero();
  for (std::size_t i = 0; i < parents.size(); ++i) {
    std::size_t k = 0;
    for_each_parameter(*parents[i], [&](const std::string&, auto& p) {
      for (index_t j = 0; j < p.numel(); ++j) dst[k]->value[j] += typename L::value_type(c[i]) * p.value[j];
      ++k;
    });
  }
  return out;
}

template <class L>
void require_gradients(L& view, const Tensor<double>& x, const forward_context<double>& ctx = {}) {
  const auto r = check_layer_gradients(view, x, ctx);
  INFO(r.report);
  CHECK(r.ok);
}

// Saves every parameter's gradient, to check later that it was (not) touched.
template <class L>
std::vector<Tensor<typename L::value_type>> grads_of(L& layer) {
  std::vector<Tensor<typename L::value_type>> out;
  for_each_parameter(layer, [&](const std::string&, auto& p) { out.push_back(p.grad); });
  return out;
}
template <class L>
void fill_grads(L& layer, typename L::value_type v) {
  for_each_parameter(layer, [&](const std::string&, auto& p) { p.grad.fill(v); });
}

// One forward + backward of L = Σ y through `layer` on input x (a variable).
template <class L, class T = typename L::value_type>
Tensor<T> backward_sum(L& layer, const Tensor<T>& x, const forward_context<T>& ctx = {}) {
  Tape<T> tape;
  Var<T> xv = tape.variable(x);
  Var<T> y = layer.forward(tape, xv, ctx);
  tape.backward(ops::sum(y));
  return xv.grad();
}

}  // namespace

TEMPLATE_TEST_CASE("a mixed Conv2d equals the conv with interpolated weights", "[layers][mix][conv2d]", float, double) {
  using T = TestType;
  const double tol = std::is_same_v<T, float> ? 2e-5 : 1e-12;
  for (auto [stride, padding, bias] : {std::tuple{1, 1, true}, {2, 0, false}, {2, 1, true}}) {
    Conv2d<T> a(conv_opts(stride, padding, bias), 1), b(conv_opts(stride, padding, bias), 2),
        c(conv_opts(stride, padding, bias), 3);
    const Tensor<T> x = random_tensor<T>(Shape{2, 3, 7, 6}, 4);
    for (double alpha : {0.0, 0.3, 1.0}) {
      auto view = a.mix(alpha, b);
      Conv2d<T> manual = interpolated<Conv2d<T>>({&a, &b}, {alpha, 1 - alpha});
      CHECK(max_abs_difference(forward_value(view, x), forward_value(manual, x)) < tol);
    }
    auto soup = mix<Conv2d<T>>({{a, 0.2}, {b, 0.3}, {c, 0.5}});
    Conv2d<T> manual = interpolated<Conv2d<T>>({&a, &b, &c}, {0.2, 0.3, 0.5});
    CHECK(max_abs_difference(forward_value(soup, x), forward_value(manual, x)) < tol);
    // The first term typed, the rest deduced from it.
    auto same = mix({mix_parent{a, 0.2}, {b, 0.3}, {c, 0.5}});
    CHECK(bitwise_equal(forward_value(same, x), forward_value(soup, x)));
  }
}

TEST_CASE("alpha = 1 and alpha = 0 reproduce the host and the partner exactly", "[layers][mix]") {
  Conv2d<float> a(conv_opts(), 1), b(conv_opts(), 2);
  const Tensor<float> x = random_tensor<float>(Shape{2, 3, 6, 5}, 3);
  CHECK(bitwise_equal(forward_value(a.mix(1.0, b), x), forward_value(a, x)));
  CHECK(bitwise_equal(forward_value(a.mix(0.0, b), x), forward_value(b, x)));

  Bias<float> p({4}), q({4});
  test::randomize(p.bias, 4);
  test::randomize(q.bias, 5);
  const Tensor<float> z = random_tensor<float>(Shape{2, 4, 3, 3}, 6);
  CHECK(bitwise_equal(forward_value(p.mix(1.0, q), z), forward_value(p, z)));
  CHECK(bitwise_equal(forward_value(p.mix(0.0, q), z), forward_value(q, z)));

  BatchNorm2d<float> m({4}), n({4});
  test::randomize(m.weight, 7);
  test::randomize(n.bias, 8);
  CHECK(bitwise_equal(forward_value(m.mix(1.0, n), z, {.training = true}), forward_value(m, z, {.training = true})));
  CHECK(bitwise_equal(forward_value(m.mix(0.0, n, {.bn_stats = bn_stats_policy::partner}), z), forward_value(n, z)));
}

TEST_CASE("mixed Bias, BatchNorm2d and Linear equal layers with interpolated parameters", "[layers][mix]") {
  const Tensor<double> x = random_tensor<double>(Shape{2, 4, 3, 5}, 1);
  Bias<double> p({4}), q({4});
  test::randomize(p.bias, 2);
  test::randomize(q.bias, 3);
  CHECK(max_abs_difference(forward_value(p.mix(0.25, q), x), forward_value(interpolated<Bias<double>>({&p, &q}, {0.25, 0.75}), x)) < 1e-12);

  BatchNorm2d<double> m({4}), n({4});
  test::randomize_all(m, 4);
  test::randomize_all(n, 9);
  const auto manual = interpolated<BatchNorm2d<double>>({&m, &n}, {0.6, 0.4});
  BatchNorm2d<double> manual_train = manual;
  CHECK(max_abs_difference(forward_value(m.mix(0.6, n), x, {.training = true}),
                           forward_value(manual_train, x, {.training = true})) < 1e-12);

  Linear<double> f(linear_options{.in_features = 4, .out_features = 3}, 1), g(linear_options{.in_features = 4, .out_features = 3}, 2);
  CHECK(max_abs_difference(forward_value(f.mix(0.7, g), x), forward_value(interpolated<Linear<double>>({&f, &g}, {0.7, 0.3}), x)) < 1e-12);
}

TEST_CASE("BatchNorm2d statistics policies: host, partner, interpolate, batch; never updated by a mixed forward",
          "[layers][mix][batchnorm]") {
  BatchNorm2d<double> a({3}), b({3}), c({3});
  test::randomize_all(a, 10);
  test::randomize_all(b, 20);
  test::randomize_all(c, 30);
  a.running_mean = random_tensor<double>(Shape{3}, 1);
  b.running_mean = random_tensor<double>(Shape{3}, 2);
  c.running_mean = random_tensor<double>(Shape{3}, 3);
  a.running_var = random_tensor<double>(Shape{3}, 4, 0.5, 2.0);
  b.running_var = random_tensor<double>(Shape{3}, 5, 0.5, 2.0);
  c.running_var = random_tensor<double>(Shape{3}, 6, 0.5, 2.0);
  const Tensor<double> x = random_tensor<double>(Shape{2, 3, 4, 4}, 7);

  auto with_stats = [&](const Tensor<double>& mean, const Tensor<double>& var) {
    BatchNorm2d<double> bn = interpolated<BatchNorm2d<double>>({&a, &b}, {0.3, 0.7});
    bn.running_mean = mean;
    bn.running_var = var;
    return forward_value(bn, x);
  };
  const double tol = 1e-12;
  CHECK(max_abs_difference(forward_value(a.mix(0.3, b), x), with_stats(a.running_mean, a.running_var)) < tol);
  CHECK(max_abs_difference(forward_value(a.mix(0.3, b, {.bn_stats = bn_stats_policy::partner}), x),
                           with_stats(b.running_mean, b.running_var)) < tol);
  CHECK(max_abs_difference(forward_value(a.mix(0.3, b, {.bn_stats = bn_stats_policy::interpolate}), x),
                           with_stats(lerp(a.running_mean, 0.3, b.running_mean, 0.7),
                                      lerp(a.running_var, 0.3, b.running_var, 0.7))) < tol);
  // batch: in evaluation, the statistics of x itself, as a BatchNorm2d in training mode.
  BatchNorm2d<double> batch_stats = interpolated<BatchNorm2d<double>>({&a, &b}, {0.3, 0.7});
  CHECK(max_abs_difference(forward_value(a.mix(0.3, b, {.bn_stats = bn_stats_policy::batch}), x),
                           forward_value(batch_stats, x, {.training = true})) < tol);

  // Training a mixed view uses batch statistics and leaves every parent's statistics alone.
  const Tensor<double> saved[] = {a.running_mean, a.running_var, b.running_mean, b.running_var, c.running_mean};
  for (auto policy : {bn_stats_policy::host, bn_stats_policy::partner, bn_stats_policy::interpolate,
                      bn_stats_policy::batch}) {
    auto soup = mix<BatchNorm2d<double>>({{a, 0.2}, {b, 0.3}, {c, 0.5}}, {.bn_stats = policy});
    (void)backward_sum(soup, x, {.training = true});
    (void)forward_value(soup, x);
  }
  CHECK(bitwise_equal(a.running_mean, saved[0]));
  CHECK(bitwise_equal(a.running_var, saved[1]));
  CHECK(bitwise_equal(b.running_mean, saved[2]));
  CHECK(bitwise_equal(b.running_var, saved[3]));
  CHECK(bitwise_equal(c.running_mean, saved[4]));
}

TEST_CASE("mixed views' gradients match finite differences for the input, every parent and the coefficients",
          "[layers][mix][gradcheck]") {
  const Tensor<double> x = random_tensor<double>(Shape{2, 3, 5, 4}, 11);
  for (bool learnable : {false, true}) {
    const mix_options o{.learnable_coefficient = learnable};
    CAPTURE(learnable);
    Conv2d<double> a(conv_opts(2, 1), 1), b(conv_opts(2, 1), 2), c(conv_opts(2, 1), 3);
    auto conv = a.mix(0.3, b, o);
    require_gradients(conv, x);
    auto soup = mix<Conv2d<double>>({{a, 0.2}, {b, 0.3}, {c, 0.5}}, o);
    require_gradients(soup, x);

    Conv2d<double> nb1(conv_opts(1, 0, false), 4), nb2(conv_opts(1, 0, false), 5);
    auto nobias = nb1.mix(0.6, nb2, o);
    require_gradients(nobias, x);

    Linear<double> f(linear_options{.in_features = 3, .out_features = 2}, 6), g(linear_options{.in_features = 3, .out_features = 2}, 7);
    auto fc = f.mix(0.4, g, o);
    require_gradients(fc, x);

    Bias<double> p({3}), q({3});
    test::randomize(p.bias, 8);
    test::randomize(q.bias, 9);
    auto bias = p.mix(0.8, q, o);
    require_gradients(bias, x);

    BatchNorm2d<double> m({3}), n({3});
    test::randomize_all(m, 10);
    test::randomize_all(n, 20);
    auto bn = m.mix(0.3, n, o);
    require_gradients(bn, x, {.training = true});
    auto bn_eval = m.mix(0.3, n, {.bn_stats = bn_stats_policy::partner, .learnable_coefficient = learnable});
    require_gradients(bn_eval, x);
    if (!learnable) {  // interpolated statistics are buffers: no gradient reaches c_i through them
      auto bn_interpolated = m.mix(0.3, n, {.bn_stats = bn_stats_policy::interpolate});
      require_gradients(bn_interpolated, x);
    }
  }
}

TEST_CASE("gradients reach parent i scaled by c_i; the policies decide which parents", "[layers][mix][policy]") {
  const Tensor<double> x = random_tensor<double>(Shape{2, 3, 5, 5}, 1);
  Conv2d<double> a(conv_opts(), 1), b(conv_opts(), 2);
  const double alpha = 0.3;

  // reference: a plain layer with the interpolated weights; its gradient is dW
  Conv2d<double> manual = interpolated<Conv2d<double>>({&a, &b}, {alpha, 1 - alpha});
  manual.weight.zero_grad();
  manual.bias.zero_grad();
  const Tensor<double> gx_manual = backward_sum(manual, x);

  SECTION("both: parent i receives c_i·dW, the input its usual gradient") {
    fill_grads(a, 0.0);
    fill_grads(b, 0.0);
    auto view = a.mix(alpha, b);
    const Tensor<double> gx = backward_sum(view, x);
    CHECK(max_abs_difference(gx, gx_manual) < 1e-12);
    for (index_t i = 0; i < a.weight.numel(); ++i) {
      CHECK(a.weight.grad[i] == Approx(alpha * manual.weight.grad[i]).margin(1e-12));
      CHECK(b.weight.grad[i] == Approx((1 - alpha) * manual.weight.grad[i]).margin(1e-12));
    }
    for (index_t k = 0; k < 4; ++k) CHECK(b.bias.grad[k] == Approx((1 - alpha) * manual.bias.grad[k]));
  }
  SECTION("none: no parent gradient changes by a single bit; the input still gets its gradient") {
    fill_grads(a, 0.125);
    fill_grads(b, -3.5);
    const auto ga = grads_of(a), gb = grads_of(b);
    auto view = a.mix(alpha, b, {.gradients = gradient_policy::none});
    const Tensor<double> gx = backward_sum(view, x);
    CHECK(max_abs_difference(gx, gx_manual) < 1e-12);
    const auto ga2 = grads_of(a), gb2 = grads_of(b);
    for (std::size_t k = 0; k < ga.size(); ++k) {
      CHECK(bitwise_equal(ga[k], ga2[k]));
      CHECK(bitwise_equal(gb[k], gb2[k]));
    }
  }
  SECTION("host_only: the partner's gradients stay untouched") {
    fill_grads(a, 0.0);
    fill_grads(b, 0.25);
    const auto gb = grads_of(b);
    auto view = a.mix(alpha, b, {.gradients = gradient_policy::host_only});
    (void)backward_sum(view, x);
    const auto gb2 = grads_of(b);
    for (std::size_t k = 0; k < gb.size(); ++k) CHECK(bitwise_equal(gb[k], gb2[k]));
    for (index_t i = 0; i < a.weight.numel(); ++i)
      CHECK(a.weight.grad[i] == Approx(alpha * manual.weight.grad[i]).margin(1e-12));
  }
}

TEST_CASE("policies none and host_only hold for Bias, BatchNorm2d and N-way mixes", "[layers][mix][policy]") {
  const Tensor<float> x = random_tensor<float>(Shape{2, 3, 4, 4}, 1);
  BatchNorm2d<float> m({3}), n({3}), o({3});
  Bias<float> p({3}), q({3}), r({3});
  for (auto policy : {gradient_policy::none, gradient_policy::host_only}) {
    for (auto* layer : {&m, &n, &o}) fill_grads(*layer, 0.5f);
    for (auto* layer : {&p, &q, &r}) fill_grads(*layer, 0.5f);
    const mix_options opts{.gradients = policy};
    auto bn = mix<BatchNorm2d<float>>({{m, 0.2}, {n, 0.3}, {o, 0.5}}, opts);
    auto bias = mix<Bias<float>>({{p, 0.2}, {q, 0.3}, {r, 0.5}}, opts);
    (void)backward_sum(bn, x, {.training = true});
    (void)backward_sum(bias, x);
    const Tensor<float> untouched(Shape{3}, 0.5f);
    // (Σ y does not depend on γ under batch statistics, so β is the parameter to watch)
    CHECK(bitwise_equal(n.bias.grad, untouched));
    CHECK(bitwise_equal(o.bias.grad, untouched));
    CHECK(bitwise_equal(q.bias.grad, untouched));
    CHECK(bitwise_equal(r.bias.grad, untouched));
    CHECK(bitwise_equal(m.bias.grad, untouched) == (policy == gradient_policy::none));
    CHECK(bitwise_equal(p.bias.grad, untouched) == (policy == gradient_policy::none));
  }
}

TEST_CASE("learnable coefficients are the view's own parameters", "[layers][mix][learnable]") {
  Conv2d<double> a(conv_opts(), 1), b(conv_opts(), 2);
  auto fixed = a.mix(0.3, b);
  CHECK(test::parameter_names(fixed).empty());
  auto view = a.mix(0.3, b, {.learnable_coefficient = true});
  CHECK(test::parameter_names(view) == std::vector<std::string>{"coeff.0", "coeff.1"});
  CHECK(view.coefficients().value(0) == 0.3);
  CHECK(view.coefficients().value(1) == Approx(0.7));

  // ∂L/∂c_i = ⟨dW, W_i⟩ + ⟨db, b_i⟩ with dW, db the plain layer's gradients
  const Tensor<double> x = random_tensor<double>(Shape{1, 3, 5, 5}, 3);
  Conv2d<double> manual = interpolated<Conv2d<double>>({&a, &b}, {0.3, 0.7});
  manual.weight.zero_grad();
  manual.bias.zero_grad();
  (void)backward_sum(manual, x);
  (void)backward_sum(view, x);
  for (std::size_t i = 0; i < 2; ++i) {
    Conv2d<double>& parent = i == 0 ? a : b;
    double expected = 0;
    for (index_t j = 0; j < parent.weight.numel(); ++j) expected += manual.weight.grad[j] * parent.weight.value[j];
    for (index_t j = 0; j < parent.bias.numel(); ++j) expected += manual.bias.grad[j] * parent.bias.value[j];
    CHECK(view.coefficients().parameter(i).grad[0] == Approx(expected).epsilon(1e-10));
  }
}

TEST_CASE("mixing errors name what is wrong", "[layers][mix][errors]") {
  Conv2d<float> a(conv_opts(), 1), b(conv_opts(), 2);
  CHECK_THROWS_WITH(a.mix(1.2, b), Catch::Contains("mix: alpha = 1.2 is outside [0, 1]") &&
                                       Catch::Contains("allow_extrapolation"));
  CHECK_THROWS_WITH(a.mix(-0.1, b), Catch::Contains("alpha = -0.1 is outside [0, 1]"));
  CHECK_THROWS_WITH((mix<Conv2d<float>>({{a, 0.5}, {b, 0.6}})),
                    Catch::Contains("mix: coefficients must be >= 0 and sum to 1, got (0.5, 0.6)"));
  CHECK_THROWS_WITH((mix<Conv2d<float>>({{a, 1.5}, {b, -0.5}})), Catch::Contains("got (1.5, -0.5)"));
  CHECK_NOTHROW(mix<Conv2d<float>>({{a, 0.5}, {b, 0.5 + 1e-7}}));  // within the 1e-6 tolerance

  // Extrapolation on request: θ = 1.5·θa − 0.5·θb.
  const Tensor<float> x = random_tensor<float>(Shape{1, 3, 5, 5}, 3);
  auto extra = a.mix(1.5, b, {.allow_extrapolation = true});
  CHECK(max_abs_difference(forward_value(extra, x), forward_value(interpolated<Conv2d<float>>({&a, &b}, {1.5, -0.5}), x)) < 1e-5);

  Conv2d<float> wide(conv2d_options{.in_channels = 2, .out_channels = 4, .padding = 1}, 3);
  CHECK_THROWS_WITH(a.mix(0.5, wide), Catch::Contains("mix: weight [4, 3, 3, 3] vs [4, 2, 3, 3]"));
  Conv2d<float> nobias(conv_opts(1, 1, false), 4);
  CHECK_THROWS_WITH(a.mix(0.5, nobias), Catch::Contains("1 in the other (e.g. bias on/off)"));
  Conv2d<float> strided(conv_opts(2, 1), 5);
  CHECK_THROWS_WITH(a.mix(0.5, strided), Catch::Contains("mix: Conv2d has stride 1, padding 1 vs stride 2, padding 1"));
  BatchNorm2d<float> m({3}), n({4});
  CHECK_THROWS_WITH(m.mix(0.5, n), Catch::Contains("mix: weight [3] vs [4]"));
  CHECK_THROWS_WITH(mix<Bias<float>>(std::vector<mix_parent<Bias<float>>>{}), Catch::Contains("mix: no parents given"));
}
