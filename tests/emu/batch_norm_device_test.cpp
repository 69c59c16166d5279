// Batch normalisation and the small mixed-parameter ops on the emulated CUDA device
// (support/emu_device.cpp): the kernels of ops/cuda/batch_norm.cuh, combine.cuh and
// channel_bias.cuh through their launch code against the CPU loops they mirror, then the ops
// recorded on a device tape against the same graph on the CPU, then a mixed BatchNorm2d layer
// (every statistics policy, training and evaluation) with its tensors on the device.
//
// Tolerance: test::device_tolerance (1e-6 relative to max(1, |value|)). The statistics are
// double sums in both places (the device's in a fixed block order instead of the CPU's
// sequential/SIMD order: a difference far below float resolution), the per-element arithmetic
// is the CPU loop's. Where a sum differs in precision, not just order, the check says so: the
// CPU sums a bias plane in float and a mix coefficient's dot product in float chunks (Eigen),
// the device both in double; those are compared with a double reference at 1e-6 and with the
// CPU at 1e-5.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "modelmix/layers/batch_norm.hpp"
#include "modelmix/ops/batch_norm.hpp"
#include "modelmix/ops/channel_bias.hpp"
#include "modelmix/ops/combine.hpp"
#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/reduce.hpp"
#include "emu/device_compare.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace kernels = modelmix::ops::cuda;

namespace {

// C = 3 channels of 5×7 (batch 1 and 3), and planes of 17×19 = 323 > one block of 256 threads.
Shape bn_shape(int which) {
  switch (which) {
    case 0: return Shape{1, 3, 5, 7};
    case 1: return Shape{3, 3, 5, 7};
    default: return Shape{2, 2, 17, 19};
  }
}

std::vector<double> device_doubles(const double* p, index_t n) {
  std::vector<double> out(static_cast<std::size_t>(n));
  modelmix::detail::device_copy(out.data(), p, out.size() * sizeof(double),
                                modelmix::detail::copy_direction::device_to_host);
  return out;
}
std::shared_ptr<double> device_copy_of(const std::vector<double>& v) {
  std::shared_ptr<double> p(static_cast<double*>(modelmix::detail::device_allocate(v.size() * sizeof(double))),
                            modelmix::detail::device_deleter{});
  modelmix::detail::device_copy(p.get(), v.data(), v.size() * sizeof(double),
                                modelmix::detail::copy_direction::host_to_device);
  return p;
}
double max_relative(const std::vector<double>& a, const std::vector<double>& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i]));
    if (std::isnan(d)) return INFINITY;
    worst = std::max(worst, d);
  }
  return worst;
}
bool bitwise_equal(const Tensor<float>& a, const Tensor<float>& b) {
  const Tensor<float> ha = a.to_host(), hb = b.to_host();
  return ha.shape() == hb.shape() && std::memcmp(ha.data(), hb.data(), std::size_t(ha.numel()) * sizeof(float)) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// batch_norm2d

TEST_CASE("the batch-norm kernels on the emulated device match the CPU loops", "[emu][batch_norm]") {
  const Shape shape = bn_shape(GENERATE(0, 1, 2));
  const int mode = GENERATE(0, 1, 2);  // training and updating, training without update, eval
  const bool training = mode < 2, update = mode == 0;
  INFO("shape " << shape << (training ? ", training" : ", eval") << (update ? ", update" : ", no update"));
  const index_t N = shape[0], C = shape[1], HW = shape[2] * shape[3];
  const Tensor<float> x = test::random_tensor<float>(shape, 1, -2.f, 3.f);
  const Tensor<float> gamma = test::random_tensor<float>(Shape{C}, 2, 0.5f, 1.5f);
  const Tensor<float> beta = test::random_tensor<float>(Shape{C}, 3);
  const Tensor<float> rm0 = test::random_tensor<float>(Shape{C}, 4);
  const Tensor<float> rv0 = test::random_tensor<float>(Shape{C}, 5, 0.5f, 2.f);

  Tensor<float> rm = rm0, rv = rv0, y(shape);
  std::vector<double> mean(static_cast<std::size_t>(C)), rstd(static_cast<std::size_t>(C));
  ops::cpu::batch_norm2d_forward(ops::cpu::batch_norm_extents{N, C, HW}, x.data(), gamma.data(), beta.data(),
                                 rm.data(), rv.data(), 0.1, 1e-5, training, training && update, y.data(),
                                 mean.data(), rstd.data());

  const Tensor<float> dx = x.to(device::cuda), dgamma = gamma.to(device::cuda), dbeta = beta.to(device::cuda);
  Tensor<float> drm = rm0.to(device::cuda), drv = rv0.to(device::cuda);
  Tensor<float> dy = Tensor<float>::empty(shape, device::cuda);
  const auto stats = device_copy_of(std::vector<double>(std::size_t(2 * C), NAN));
  kernels::batch_norm2d_forward(N, C, HW, dx.data(), dgamma.data(), dbeta.data(), drm.data(), drv.data(), 0.1, 1e-5,
                                training, update, dy.data(), stats.get(), stats.get() + C);
  CHECK(test::device_error(dy, y) <= test::device_tolerance);
  CHECK(max_relative(device_doubles(stats.get(), C), mean) <= 1e-12);
  CHECK(max_relative(device_doubles(stats.get() + C, C), rstd) <= 1e-12);
  CHECK(test::device_error(drm, rm) <= test::device_tolerance);
  CHECK(test::device_error(drv, rv) <= test::device_tolerance);
  if (!(training && update)) {
    CHECK(bitwise_equal(drm, rm0));
    CHECK(bitwise_equal(drv, rv0));
  }

  // Backward from the CPU's statistics (mode 1 has mode 0's): every output added and assigned,
  // ∂x alone (assigned), ∂γ and ∂β alone.
  if (mode == 1) return;
  const Tensor<float> g = test::random_tensor<float>(shape, 6);
  const Tensor<float> gx0 = test::random_tensor<float>(shape, 7), gg0 = test::random_tensor<float>(Shape{C}, 8),
                      gb0 = test::random_tensor<float>(Shape{C}, 9);
  const auto dmean = device_copy_of(mean), drstd = device_copy_of(rstd);
  const Tensor<float> dg = g.to(device::cuda);
  for (const auto& [assign, wanted] :
       {std::pair{false, 0}, std::pair{true, 0}, std::pair{true, 1}, std::pair{false, 2}}) {
    INFO((assign ? "assign" : "add") << ", wanted " << wanted);
    const bool want_x = wanted != 2, want_params = wanted != 1;
    Tensor<float> gx = gx0, gg = gg0, gb = gb0;
    ops::cpu::batch_norm2d_backward(ops::cpu::batch_norm_extents{N, C, HW}, training, g.data(), x.data(),
                                    gamma.data(), mean.data(), rstd.data(), want_x ? gx.data() : nullptr,
                                    want_params ? gg.data() : nullptr, want_params ? gb.data() : nullptr, assign);
    Tensor<float> dgx = assign ? Tensor<float>::empty(shape, device::cuda) : gx0.to(device::cuda);
    Tensor<float> dgg = gg0.to(device::cuda), dgb = gb0.to(device::cuda);
    kernels::batch_norm2d_backward(N, C, HW, training, dg.data(), dx.data(), dgamma.data(), dmean.get(),
                                   drstd.get(), want_x ? dgx.data() : nullptr, want_params ? dgg.data() : nullptr,
                                   want_params ? dgb.data() : nullptr, assign);
    if (want_x) CHECK(test::device_error(dgx, gx) <= test::device_tolerance);
    CHECK(test::device_error(dgg, gg) <= test::device_tolerance);
    CHECK(test::device_error(dgb, gb) <= test::device_tolerance);
  }
}

TEST_CASE("batch_norm2d recorded on the emulated device matches the CPU graph", "[emu][batch_norm]") {
  const Shape shape = bn_shape(GENERATE(0, 1, 2));
  const int mode = GENERATE(0, 1, 2);  // training and updating, training without update, eval
  const bool training = mode < 2, update = mode == 0;
  INFO("shape " << shape << (training ? ", training" : ", eval") << (update ? ", update" : ", no update"));
  const index_t C = shape[1];
  const Tensor<float> x0 = test::random_tensor<float>(shape, 11, -2.f, 3.f), w0 = test::random_tensor<float>(shape, 12);
  const Tensor<float> gamma0 = test::random_tensor<float>(Shape{C}, 13, 0.5f, 1.5f);
  const Tensor<float> beta0 = test::random_tensor<float>(Shape{C}, 14);
  const Tensor<float> rm0 = test::random_tensor<float>(Shape{C}, 15);
  const Tensor<float> rv0 = test::random_tensor<float>(Shape{C}, 16, 0.5f, 2.f);
  struct result {
    Tensor<float> y, loss, gx, ggamma, gbeta, rm, rv;
  };
  const auto graph = [&](device where) {
    Parameter<float> gamma(gamma0.to(where)), beta(beta0.to(where));
    Tensor<float> rm = rm0.to(where), rv = rv0.to(where);
    Tape<float> tape;
    const Var<float> x = tape.variable(x0.to(where)), w = tape.constant(w0.to(where));
    const Var<float> y = ops::batch_norm2d(x, tape.parameter(gamma), tape.parameter(beta),
                                           {rm, rv, 0.1f, 1e-5f, update}, training);
    // x reaches the loss twice: through the normalisation and directly.
    const Var<float> loss = ops::add(ops::sum(ops::mul(y, w)), ops::mean(ops::mul(x, w)));
    tape.backward(loss);
    return result{y.value(), loss.value(), x.grad(), gamma.grad, beta.grad, rm, rv};
  };
  const result cpu = graph(device::cpu), dev = graph(device::cuda);
  CHECK(dev.y.on_device());
  CHECK(dev.gx.on_device());
  CHECK(dev.ggamma.on_device());
  CHECK(dev.rm.on_device());
  CHECK(test::device_error(dev.y, cpu.y) <= test::device_tolerance);
  CHECK(test::device_error(dev.loss, cpu.loss) <= test::device_tolerance);
  CHECK(test::device_error(dev.gx, cpu.gx) <= test::device_tolerance);
  CHECK(test::device_error(dev.ggamma, cpu.ggamma) <= test::device_tolerance);
  CHECK(test::device_error(dev.gbeta, cpu.gbeta) <= test::device_tolerance);
  CHECK(test::device_error(dev.rm, cpu.rm) <= test::device_tolerance);
  CHECK(test::device_error(dev.rv, cpu.rv) <= test::device_tolerance);
  CHECK(bitwise_equal(dev.rm, rm0) == !(training && update));
}

TEST_CASE("batch_norm2d on the device is built for float and keeps its statistics there", "[emu][batch_norm]") {
  {
    Tape<double> tape;
    Tensor<double> rm = Tensor<double>(Shape{2}).to(device::cuda), rv = Tensor<double>(Shape{2}, 1.0).to(device::cuda);
    const Var<double> x = tape.variable(Tensor<double>(Shape{1, 2, 2, 2}, 1.0).to(device::cuda));
    const Var<double> p = tape.constant(Tensor<double>(Shape{2}, 1.0).to(device::cuda));
    CHECK_THROWS_WITH(ops::batch_norm2d(x, p, p, {rm, rv}, true),
                      Catch::Contains("batch_norm2d: the CUDA kernels are built for float tensors"));
  }
  Tape<float> tape;
  Tensor<float> rm(Shape{2}), rv(Shape{2}, 1.f);  // on the host
  const Var<float> x = tape.variable(Tensor<float>(Shape{1, 2, 2, 2}, 1.f).to(device::cuda));
  const Var<float> p = tape.constant(Tensor<float>(Shape{2}, 1.f).to(device::cuda));
  CHECK_THROWS_WITH(ops::batch_norm2d(x, p, p, {rm, rv}, true),
                    Catch::Contains("batch_norm2d: inputs live on different devices"));
}

// ---------------------------------------------------------------------------------------------
// combine

TEST_CASE("the combine kernels on the emulated device match the CPU mix spec loops", "[emu][combine]") {
  const int terms = GENERATE(1, 3, 10);  // 10: two launches of at most 8 terms
  const index_t n = GENERATE(3, 35, 300);  // 300: more than one block of threads
  INFO(terms << " terms of " << n);
  std::vector<Tensor<float>> theta, dtheta;
  std::vector<float> coeff;
  for (int i = 0; i < terms; ++i) {
    theta.push_back(test::random_tensor<float>(Shape{n}, 20 + unsigned(i)));
    dtheta.push_back(theta.back().to(device::cuda));
    coeff.push_back(test::random_tensor<float>(Shape{1}, 40 + unsigned(i), -1.f, 2.f)[0]);
  }
  mixing::spec<float> spec, dspec;
  spec.weight_numel = dspec.weight_numel = n;
  for (int i = 0; i < terms; ++i) {
    spec.terms.push_back({theta[std::size_t(i)].data(), nullptr, coeff[std::size_t(i)]});
    dspec.terms.push_back({dtheta[std::size_t(i)].data(), nullptr, coeff[std::size_t(i)]});
  }
  Tensor<float> out(Shape{n});
  mixing::weighted_sum(out.data(), n, spec, &mixing::term<float>::weight);
  Tensor<float> dout = Tensor<float>::empty(Shape{n}, device::cuda);
  kernels::combine(dspec, dout.data());
  CHECK(test::device_error(dout, out) <= test::device_tolerance);

  // Backward: a gradient for terms 0, 2, 4, … (term 2 shares term 0's buffer: aliased
  // gradients add in term order), a coefficient gradient for terms with i % 3 != 1.
  const Tensor<float> g = test::random_tensor<float>(Shape{n}, 60), dg = g.to(device::cuda);
  std::vector<Tensor<float>> gw, dgw;
  for (int i = 0; i < terms; ++i) {
    gw.push_back(test::random_tensor<float>(Shape{n}, 70 + unsigned(i)));
    dgw.push_back(gw.back().to(device::cuda));
  }
  Tensor<float> gc = test::random_tensor<float>(Shape{index_t(terms)}, 80);
  Tensor<float> dgc = gc.to(device::cuda);
  std::vector<double> dot(std::size_t(terms), 0.0);  // the double reference of ⟨g, θ_i⟩
  for (int i = 0; i < terms; ++i) {
    for (index_t j = 0; j < n; ++j) dot[std::size_t(i)] += double(g[j]) * double(theta[std::size_t(i)][j]);
    const std::size_t target = i == 2 ? 0 : std::size_t(i);
    if (i % 2 == 0) {
      spec.terms[std::size_t(i)].grad_weight = gw[target].data();
      dspec.terms[std::size_t(i)].grad_weight = dgw[target].data();
    }
    if (i % 3 != 1) {
      spec.terms[std::size_t(i)].grad_coeff = gc.data() + i;
      dspec.terms[std::size_t(i)].grad_coeff = dgc.data() + i;
    }
  }
  const Tensor<float> gc0 = gc;
  ops::cpu::split_into_parents(spec, g.data(), static_cast<const float*>(nullptr));
  kernels::combine_backward(dspec, dg.data());
  for (int i = 0; i < terms; ++i) {
    INFO("term " << i);
    CHECK(test::device_error(dgw[std::size_t(i)], gw[std::size_t(i)]) <= test::device_tolerance);
  }
  const Tensor<float> hgc = dgc.to_host();
  for (int i = 0; i < terms; ++i) {
    INFO("coefficient " << i);
    const double want = i % 3 != 1 ? double(gc0[i]) + dot[std::size_t(i)] : double(gc0[i]);
    CHECK(std::abs(double(hgc[i]) - want) / std::max(1.0, std::abs(want)) <= test::device_tolerance);
    CHECK(std::abs(double(hgc[i]) - double(gc[i])) / std::max(1.0, std::abs(double(gc[i]))) <= 1e-5);
  }
}

TEST_CASE("combine and add_channel_bias recorded on the emulated device match the CPU graph",
          "[emu][combine][channel_bias]") {
  const Shape shape = bn_shape(GENERATE(0, 1, 2));
  const int terms = GENERATE(1, 3);
  const bool learnable = terms == 3;
  INFO("shape " << shape << ", " << terms << " terms" << (learnable ? ", learnable coefficients" : ""));
  const index_t C = shape[1];
  const Tensor<float> x0 = test::random_tensor<float>(shape, 90), w0 = test::random_tensor<float>(shape, 91);
  struct result {
    Tensor<float> mixed, y, loss, gx;
    std::vector<Tensor<float>> gtheta;
    std::vector<float> gcoeff;
  };
  const auto graph = [&](device where) {
    std::vector<Parameter<float>> theta, coeff;
    theta.reserve(std::size_t(terms));
    coeff.reserve(std::size_t(terms));
    for (int i = 0; i < terms; ++i) {
      theta.emplace_back(test::random_tensor<float>(Shape{C}, 100 + unsigned(i)).to(where));
      coeff.emplace_back(Tensor<float>(Shape{1}, 0.5f - 0.25f * float(i)));  // on the host, always
      // gradients from an earlier pass: the op must add to them
      theta.back().grad = test::random_tensor<float>(Shape{C}, 110 + unsigned(i)).to(where);
      coeff.back().grad = Tensor<float>(Shape{1}, 0.25f + float(i));
    }
    Tape<float> tape;
    std::vector<std::pair<Var<float>, Var<float>>> pairs;
    for (int i = 0; i < terms; ++i)
      pairs.emplace_back(tape.parameter(theta[std::size_t(i)]),
                         learnable ? tape.parameter(coeff[std::size_t(i)]) : tape.constant(coeff[std::size_t(i)].value));
    const Var<float> b = ops::combine(pairs);
    const Var<float> x = tape.variable(x0.to(where)), w = tape.constant(w0.to(where));
    const Var<float> y = ops::add_channel_bias(x, b);
    tape.backward(ops::add(ops::sum(ops::mul(y, w)), ops::sum(ops::mul(x, w))));
    result r{b.value(), y.value(), {}, x.grad(), {}, {}};
    for (int i = 0; i < terms; ++i) {
      r.gtheta.push_back(theta[std::size_t(i)].grad);
      r.gcoeff.push_back(coeff[std::size_t(i)].grad[0]);
    }
    return r;
  };
  const result cpu = graph(device::cpu), dev = graph(device::cuda);
  CHECK(dev.y.on_device());
  CHECK(test::device_error(dev.mixed, cpu.mixed) <= test::device_tolerance);
  CHECK(test::device_error(dev.y, cpu.y) <= test::device_tolerance);
  CHECK(test::device_error(dev.gx, cpu.gx) <= test::device_tolerance);
  for (int i = 0; i < terms; ++i) {
    INFO("term " << i);
    // ∂θ_i = c_i·∂b, ∂b[c] = Σ over a channel: planes summed in double here, in float on the CPU
    CHECK(test::device_error(dev.gtheta[std::size_t(i)], cpu.gtheta[std::size_t(i)]) <= 1e-5);
    const float a = dev.gcoeff[std::size_t(i)], b = cpu.gcoeff[std::size_t(i)];
    CHECK(std::abs(double(a) - double(b)) / std::max(1.0, std::abs(double(b))) <= 1e-5);
  }
}

TEST_CASE("the channel-bias kernels on the emulated device match the CPU loops", "[emu][channel_bias]") {
  const Shape shape = bn_shape(GENERATE(0, 1, 2));
  INFO("shape " << shape);
  const index_t N = shape[0], C = shape[1], HW = shape[2] * shape[3];
  const Tensor<float> x = test::random_tensor<float>(shape, 1), b = test::random_tensor<float>(Shape{C}, 2);
  Tensor<float> y(shape);
  ops::cpu::add_channel_bias(x.data(), b.data(), y.data(), N, C, HW);
  const Tensor<float> dx = x.to(device::cuda), db = b.to(device::cuda);
  Tensor<float> dy = Tensor<float>::empty(shape, device::cuda);
  kernels::add_channel_bias(dx.data(), db.data(), dy.data(), N, C, HW);
  CHECK(test::device_error(dy, y) <= test::device_tolerance);

  const Tensor<float> g = test::random_tensor<float>(shape, 3), gb0 = test::random_tensor<float>(Shape{C}, 4);
  Tensor<float> gb = gb0;
  ops::cpu::add_channel_bias_backward_bias(g.data(), gb.data(), N, C, HW);
  std::vector<double> want(static_cast<std::size_t>(C));  // gb0[c] + Σ_n float(Σ_i g) with each plane summed in double
  for (index_t c = 0; c < C; ++c) {
    float acc = gb0[c];
    for (index_t n = 0; n < N; ++n) {
      double s = 0;
      for (index_t i = 0; i < HW; ++i) s += double(g[(n * C + c) * HW + i]);
      acc += float(s);
    }
    want[std::size_t(c)] = acc;
  }
  Tensor<float> dgb = gb0.to(device::cuda);
  kernels::add_channel_bias_backward_bias(g.to(device::cuda).data(), dgb.data(), N, C, HW);
  const Tensor<float> got = dgb.to_host();
  for (index_t c = 0; c < C; ++c) CHECK(double(got[c]) == Approx(want[std::size_t(c)]).epsilon(1e-6).margin(1e-6));
  CHECK(test::device_error(dgb, gb) <= 1e-5);  // the CPU sums each plane in float
}

TEST_CASE("combine and add_channel_bias on the device are built for float; coefficients stay on the host",
          "[emu][combine][channel_bias]") {
  {
    Tape<double> tape;
    const Var<double> theta = tape.variable(Tensor<double>(Shape{2}, 1.0).to(device::cuda));
    const Var<double> c = tape.constant(Tensor<double>(Shape{1}, 1.0));
    CHECK_THROWS_WITH(ops::combine(std::vector<std::pair<Var<double>, Var<double>>>{{theta, c}}),
                      Catch::Contains("combine: the CUDA kernels are built for float tensors"));
    const Var<double> x = tape.variable(Tensor<double>(Shape{1, 2, 2, 2}, 1.0).to(device::cuda));
    CHECK_THROWS_WITH(ops::add_channel_bias(x, theta),
                      Catch::Contains("add_channel_bias: the CUDA kernels are built for float tensors"));
  }
  Tape<float> tape;
  const Var<float> theta = tape.variable(Tensor<float>(Shape{2}, 1.f).to(device::cuda));
  const Var<float> c = tape.constant(Tensor<float>(Shape{1}, 1.f).to(device::cuda));
  CHECK_THROWS_WITH(ops::combine(std::vector<std::pair<Var<float>, Var<float>>>{{theta, c}}),
                    Catch::Contains("combine: mix coefficients are read on the host"));
}

// ---------------------------------------------------------------------------------------------
// The mixed BatchNorm2d layer with its tensors on the device

namespace {

using BN = layers::BatchNorm2d<float>;

void randomize_layer(BN& l, unsigned seed) {
  const index_t C = l.options().channels;
  l.weight.value = test::random_tensor<float>(Shape{C}, seed, 0.5f, 1.5f);
  l.bias.value = test::random_tensor<float>(Shape{C}, seed + 1);
  l.running_mean = test::random_tensor<float>(Shape{C}, seed + 2);
  l.running_var = test::random_tensor<float>(Shape{C}, seed + 3, 0.5f, 2.f);
}

void move_layer(BN& l, device where) {
  l.weight.to(where);
  l.bias.to(where);
  l.running_mean = l.running_mean.to(where);
  l.running_var = l.running_var.to(where);
}

struct layer_result {
  Tensor<float> y, gx;
  std::vector<Tensor<float>> tensors;  // per parent: ∂γ, ∂β, running_mean, running_var
  std::vector<float> gcoeff;
};

}  // namespace

TEST_CASE("a mixed BatchNorm2d with its tensors on the emulated device matches the CPU, every policy",
          "[emu][batch_norm][layers]") {
  using layers::bn_stats_policy;
  // Training normalises with the batch under every policy (one run covers them); evaluation
  // runs each policy. Two parents with learnable coefficients (batch 3), three without (batch 1).
  const int mode = GENERATE(0, 1, 2, 3, 4);
  const bool training = mode == 4;
  const bn_stats_policy policy = training ? bn_stats_policy::interpolate : bn_stats_policy(mode);
  const int parents = GENERATE(2, 3);
  const bool learnable = parents == 2;
  const Shape shape = bn_shape(parents == 2 ? 1 : 0);
  INFO("shape " << shape << ", policy " << int(policy) << (training ? ", training" : ", eval") << ", " << parents
                << " parents" << (learnable ? ", learnable coefficients" : ""));
  const index_t C = shape[1];
  const Tensor<float> x0 = test::random_tensor<float>(shape, 200, -2.f, 3.f), w0 = test::random_tensor<float>(shape, 201);
  const layers::mix_options options{.bn_stats = policy, .learnable_coefficient = learnable};

  const auto run = [&](device where) {
    std::vector<BN> bn(3, BN({C}));
    for (std::size_t i = 0; i < bn.size(); ++i) {
      randomize_layer(bn[i], 210 + 10 * unsigned(i));
      move_layer(bn[i], where);
    }
    auto view = parents == 2 ? bn[0].mix(0.3, bn[1], options)
                             : layers::mix<BN>({{bn[0], 0.2}, {bn[1], 0.3}, {bn[2], 0.5}}, options);
    Tape<float> tape;
    const Var<float> x = tape.variable(x0.to(where)), w = tape.constant(w0.to(where));
    const Var<float> y = view.forward(tape, x, {.training = training});
    tape.backward(ops::sum(ops::mul(y, w)));
    layer_result r{y.value(), x.grad(), {}, {}};
    for (BN& l : bn) r.tensors.insert(r.tensors.end(), {l.weight.grad, l.bias.grad, l.running_mean, l.running_var});
    for (int i = 0; i < parents; ++i) r.gcoeff.push_back(view.coefficients().parameter(std::size_t(i)).grad[0]);
    return r;
  };
  const layer_result cpu = run(device::cpu), dev = run(device::cuda);
  CHECK(dev.y.on_device());
  CHECK(test::device_error(dev.y, cpu.y) <= test::device_tolerance);
  CHECK(test::device_error(dev.gx, cpu.gx) <= test::device_tolerance);
  for (std::size_t k = 0; k < cpu.tensors.size(); ++k) {
    INFO("parent " << k / 4 << ", tensor " << k % 4 << " (∂γ, ∂β, running mean, running var)");
    CHECK(dev.tensors[k].on_device());
    CHECK(test::device_error(dev.tensors[k], cpu.tensors[k]) <= test::device_tolerance);
  }
  // A mixed forward never updates any parent's statistics: both sides still hold the initial ones.
  BN fresh({C});
  randomize_layer(fresh, 210);
  CHECK(bitwise_equal(dev.tensors[2], fresh.running_mean));
  CHECK(bitwise_equal(dev.tensors[3], fresh.running_var));
  for (int i = 0; i < parents; ++i) {
    INFO("coefficient " << i);
    const float a = dev.gcoeff[std::size_t(i)], b = cpu.gcoeff[std::size_t(i)];
    CHECK(std::abs(double(a) - double(b)) / std::max(1.0, std::abs(double(b))) <= test::device_tolerance);
  }
}

TEST_CASE("a plain BatchNorm2d on the emulated device updates its running statistics there", "[emu][batch_norm][layers]") {
  const Shape shape = bn_shape(GENERATE(0, 2));
  const bool update = GENERATE(true, false);
  INFO("shape " << shape << (update ? ", update" : ", no update"));
  const index_t C = shape[1];
  const Tensor<float> x0 = test::random_tensor<float>(shape, 300, -2.f, 3.f), w0 = test::random_tensor<float>(shape, 301);
  const auto run = [&](device where) {
    BN bn({C});
    randomize_layer(bn, 310);
    move_layer(bn, where);
    for (int step = 0; step < 2; ++step) {  // twice: the second step reads the updated statistics
      Tape<float> tape;
      const Var<float> x = tape.variable(x0.to(where)), w = tape.constant(w0.to(where));
      tape.backward(ops::sum(ops::mul(bn.forward(tape, x, {.training = true, .update_running_stats = update}), w)));
    }
    Tape<float> tape;
    const Tensor<float> y_eval = bn.forward(tape, tape.constant(x0.to(where)), {}).value();
    return std::vector<Tensor<float>>{bn.running_mean, bn.running_var, bn.weight.grad, bn.bias.grad, y_eval};
  };
  const std::vector<Tensor<float>> cpu = run(device::cpu), dev = run(device::cuda);
  for (std::size_t k = 0; k < cpu.size(); ++k) {
    INFO("tensor " << k << " (running mean, running var, ∂γ, ∂β, eval output)");
    CHECK(dev[k].on_device());
    CHECK(test::device_error(dev[k], cpu[k]) <= test::device_tolerance);
  }
}
