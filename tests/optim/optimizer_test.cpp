#include <catch2/catch.hpp>

#include <cmath>

#include "modelmix/optim/adam.hpp"
#include "modelmix/optim/clip_grad_norm.hpp"
#include "modelmix/optim/schedules.hpp"
#include "modelmix/optim/sgd.hpp"
#include "support/random.hpp"

using namespace modelmix;

namespace {
// Runs `optimizer` on one scalar parameter (initially 1) fed the given gradients; returns θ after each step.
template <class Optimizer, class Options>
std::vector<double> trajectory(Options options, std::vector<double> grads) {
  Parameter<double> theta(Tensor<double>(Shape{1}, 1.0));
  Optimizer opt({{"theta", &theta}}, options);
  std::vector<double> out;
  for (double g : grads) {
    opt.zero_grad();
    theta.grad[0] += g;
    opt.step();
    out.push_back(theta.value[0]);
  }
  return out;
}

void check_trajectory(const std::vector<double>& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("step " << i + 1);
    CHECK(got[i] == Approx(expected[i]).epsilon(1e-12));
  }
}

// f(θ) = ½ Σ a_i (θ_i − c_i)², ∇f = a ⊙ (θ − c); returns max |θ − c| after `steps`.
template <class Optimizer, class Options>
double minimise_quadratic(Options options, int steps, const optim::lr_schedule& schedule) {
  const Tensor<float> a = test::random_tensor<float>(Shape{4, 5}, 1, 0.5f, 2.0f);
  const Tensor<float> c = test::random_tensor<float>(Shape{4, 5}, 2);
  Parameter<float> w(test::random_tensor<float>(Shape{4, 5}, 3));
  Parameter<float> b(Tensor<float>(Shape{3}, 2.0f));
  Optimizer opt({{"layer.weight", &w}, {"layer.bias", &b}}, options);
  for (int s = 0; s < steps; ++s) {
    opt.set_lr(optim::lr_at(schedule, opt.step_count()));
    opt.zero_grad();
    for (index_t i = 0; i < w.numel(); ++i) w.grad[i] = a[i] * (w.value[i] - c[i]);
    for (index_t i = 0; i < b.numel(); ++i) b.grad[i] = b.value[i] + 1.0f;  // minimum at −1
    opt.step();
  }
  double worst = 0;
  for (index_t i = 0; i < w.numel(); ++i) worst = std::max(worst, double(std::abs(w.value[i] - c[i])));
  for (index_t i = 0; i < b.numel(); ++i) worst = std::max(worst, double(std::abs(b.value[i] + 1.0f)));
  return worst;
}
}  // namespace

TEST_CASE("Sgd matches hand-computed torch.optim.SGD updates", "[optim][sgd]") {
  using S = optim::Sgd<double>;
  // momentum 0.9, lr 0.1, g = 1: buf 1, 1.9, 2.71
  check_trajectory(trajectory<S>(optim::sgd_options{.lr = 0.1, .momentum = 0.9}, {1, 1, 1}), {0.9, 0.71, 0.439});
  // nesterov: d = g + 0.9·buf = 1.9, 2.71
  check_trajectory(trajectory<S>(optim::sgd_options{.lr = 0.1, .momentum = 0.9, .nesterov = true}, {1, 1}), {0.81, 0.539});
  // dampening applies from the second step: buf 1, 0.9 + 0.5
  check_trajectory(trajectory<S>(optim::sgd_options{.lr = 0.1, .momentum = 0.9, .dampening = 0.5}, {1, 1}), {0.9, 0.76});
  // L2 weight decay alone shrinks θ by lr·wd per step
  check_trajectory(trajectory<S>(optim::sgd_options{.lr = 0.1, .weight_decay = 0.1}, {0, 0}), {0.99, 0.9801});
  // plain
  check_trajectory(trajectory<S>(optim::sgd_options{.lr = 0.5}, {1, -2}), {0.5, 1.5});
}

TEST_CASE("Adam matches hand-computed torch.optim.Adam / AdamW updates", "[optim][adam]") {
  using A = optim::Adam<double>;
  // Values from the torch formulas (bias-corrected m / (√v̂ + eps)), g = 1, −2, 0.5, lr 0.1.
  check_trajectory(trajectory<A>(optim::adam_options{.lr = 0.1}, {1, -2, 0.5}),
                   {0.900000001, 0.9366103534720749, 0.9502794196738216});
  check_trajectory(trajectory<A>(optim::adam_options{.lr = 0.1, .weight_decay = 0.5}, {1, -2, 0.5}),
                   {0.9000000006666666, 0.9069015188655994, 0.8859373445042629});
  check_trajectory(trajectory<A>(optim::adam_options{.lr = 0.1, .weight_decay = 0.5, .decay = optim::weight_decay_mode::decoupled},
                                 {1, -2, 0.5}),
                   {0.850000001, 0.8441103534220749, 0.8155739019527177});
}

TEST_CASE("optimizers minimise a quadratic", "[optim]") {
  CHECK(minimise_quadratic<optim::Sgd<float>>(optim::sgd_options{.momentum = 0.9}, 300, optim::constant_lr{0.05}) < 1e-4);
  CHECK(minimise_quadratic<optim::Adam<float>>(optim::adam_options{}, 600, optim::cosine_lr{0.05, 600, 0.0}) < 1e-3);
  CHECK(minimise_quadratic<optim::Adam<float>>(optim::adam_options{.weight_decay = 1e-4, .decay = optim::weight_decay_mode::decoupled},
                                               600, optim::poly_lr{0.05, 600, 0.9}) < 1e-3);
}

TEST_CASE("zero_grad clears every gradient", "[optim]") {
  Parameter<float> a(Tensor<float>(Shape{2}, 1.0f)), b(Tensor<float>(Shape{3}, 1.0f));
  a.grad.fill(3.0f), b.grad.fill(4.0f);
  optim::Adam<float> opt({{"a", &a}, {"b", &b}});
  opt.zero_grad();
  for (float g : a.grad.span()) CHECK(g == 0.0f);
  for (float g : b.grad.span()) CHECK(g == 0.0f);
}

TEST_CASE("optimizers reject bad parameter lists and options", "[optim]") {
  Parameter<float> a(Tensor<float>(Shape{2}, 1.0f));
  CHECK_THROWS_WITH(optim::Sgd<float>({{"a", &a}, {"a", &a}}), Catch::Contains("parameter name 'a' appears twice"));
  CHECK_THROWS_WITH(optim::Adam<float>({{"x", nullptr}}), Catch::Contains("'x' is a null pointer"));
  CHECK_THROWS_WITH(optim::Adam<float>({{"a", &a}}, {.beta2 = 1.0}), Catch::Contains("beta2 must be in [0, 1)"));
  CHECK_THROWS_WITH(optim::Sgd<float>({{"a", &a}}, {.nesterov = true}), Catch::Contains("nesterov needs momentum"));
  Parameter<float> broken;
  broken.value = Tensor<float>(Shape{2});
  CHECK_THROWS_WITH(optim::Sgd<float>({{"broken", &broken}}), Catch::Contains("gradient shape"));
}

TEST_CASE("clip_grad_norm scales by max_norm / norm and returns the norm before clipping", "[optim]") {
  Parameter<double> a(Tensor<double>(Shape{2})), b(Tensor<double>(Shape{1}));
  a.grad = Tensor<double>(Shape{2}, std::vector<double>{3, 4});
  b.grad = Tensor<double>(Shape{1}, std::vector<double>{12});
  const optim::named_parameters<double> params{{"a", &a}, {"b", &b}};
  CHECK(optim::clip_grad_norm(params, 100.0) == Approx(13.0));
  CHECK(b.grad[0] == 12.0);  // under the limit: untouched
  CHECK(optim::clip_grad_norm(params, 6.5) == Approx(13.0));
  CHECK(a.grad[0] == Approx(1.5).epsilon(1e-6));
  CHECK(a.grad[1] == Approx(2.0).epsilon(1e-6));
  CHECK(b.grad[0] == Approx(6.0).epsilon(1e-6));

  b.grad[0] = std::numeric_limits<double>::infinity();
  CHECK(std::isinf(optim::clip_grad_norm(params, 1.0)));
  CHECK(a.grad[0] == Approx(1.5).epsilon(1e-6));  // left for the caller to handle
  CHECK_THROWS_WITH(optim::clip_grad_norm(params, 0.0), Catch::Contains("max_norm must be positive"));
}

TEST_CASE("schedules give the documented learning rates", "[optim][schedule]") {
  CHECK(optim::constant_lr{1e-4}.lr_at(12345) == 1e-4);

  const optim::step_lr step{1.0, 10, 0.5};
  CHECK(step.lr_at(0) == 1.0);
  CHECK(step.lr_at(9) == 1.0);
  CHECK(step.lr_at(10) == 0.5);
  CHECK(step.lr_at(25) == 0.25);

  const optim::cosine_lr cosine{1.0, 100, 0.1};
  CHECK(cosine.lr_at(0) == Approx(1.0));
  CHECK(cosine.lr_at(50) == Approx(0.55));
  CHECK(cosine.lr_at(100) == Approx(0.1));
  CHECK(cosine.lr_at(150) == Approx(0.1));

  const optim::poly_lr poly{1.0, 100, 0.9};
  CHECK(poly.lr_at(0) == 1.0);
  CHECK(poly.lr_at(50) == Approx(std::pow(0.5, 0.9)));
  CHECK(poly.lr_at(100) == 0.0);
  CHECK(poly.lr_at(200) == 0.0);

  const optim::lr_schedule any = cosine;
  CHECK(optim::lr_at(any, 50) == Approx(0.55));
  CHECK_THROWS_WITH((optim::step_lr{1.0, 0, 0.5}.lr_at(3)), Catch::Contains("step_size must be positive"));
}

TEST_CASE("Adam updates a long tensor (vectors of elements, threads, a scalar tail) as element by element", "[optim][adam]") {
  // n past the parallel threshold and not a multiple of any vector width: every path of the update runs.
  const index_t n = 40003;
  const std::vector<index_t> probes = {0, 1, 7, 8, 15, 16, 997, 20011, n - 4, n - 3, n - 2, n - 1};
  for (const optim::adam_options& options :
       {optim::adam_options{.lr = 0.01, .weight_decay = 5e-4},
        optim::adam_options{.lr = 0.01, .weight_decay = 0.1, .decay = optim::weight_decay_mode::decoupled},
        optim::adam_options{.lr = 0.02}}) {
    INFO("weight_decay " << options.weight_decay << " decoupled " << (options.decay == optim::weight_decay_mode::decoupled));
    const Tensor<float> theta0 = test::random_tensor<float>(Shape{n}, 11);
    Parameter<float> whole(theta0);  // a copy
    optim::Adam<float> opt({{"w", &whole}}, options);
    std::vector<Parameter<float>> singles;
    singles.reserve(probes.size());
    for (index_t i : probes) singles.emplace_back(Tensor<float>(Shape{1}, theta0[i]));
    std::vector<optim::Adam<float>> single_opts;
    single_opts.reserve(probes.size());
    for (Parameter<float>& p : singles) single_opts.emplace_back(optim::named_parameters<float>{{"w", &p}}, options);
    // The formula, plainly, in double: m, v, θ per probe.
    std::vector<double> m(probes.size(), 0), v(probes.size(), 0), theta(probes.size());
    for (std::size_t j = 0; j < probes.size(); ++j) theta[j] = theta0[probes[j]];
    const bool l2 = options.decay == optim::weight_decay_mode::l2;
    for (int step = 1; step <= 3; ++step) {
      const Tensor<float> g = test::random_tensor<float>(Shape{n}, 100 + unsigned(step));
      opt.zero_grad();
      for (index_t i = 0; i < n; ++i) whole.grad[i] = g[i];
      opt.step();
      for (std::size_t j = 0; j < probes.size(); ++j) {
        single_opts[j].zero_grad();
        singles[j].grad[0] = g[probes[j]];
        single_opts[j].step();
        const double gj = double(g[probes[j]]) + (l2 ? options.weight_decay * theta[j] : 0.0);
        if (!l2) theta[j] *= 1 - options.lr * options.weight_decay;
        m[j] = options.beta1 * m[j] + (1 - options.beta1) * gj;
        v[j] = options.beta2 * v[j] + (1 - options.beta2) * gj * gj;
        const double m_hat = m[j] / (1 - std::pow(options.beta1, step));
        const double v_hat = v[j] / (1 - std::pow(options.beta2, step));
        theta[j] -= options.lr * m_hat / (std::sqrt(v_hat) + options.eps);
        m[j] = double(float(m[j]));  // the state is stored in the parameter's type
        v[j] = double(float(v[j]));
        theta[j] = double(float(theta[j]));
      }
    }
    for (std::size_t j = 0; j < probes.size(); ++j) {
      INFO("element " << probes[j]);
      CHECK(whole.value[probes[j]] == singles[j].value[0]);  // bit for bit: one rounding sequence everywhere
      CHECK(double(whole.value[probes[j]]) == Approx(theta[j]).epsilon(1e-6));
    }
  }
}
