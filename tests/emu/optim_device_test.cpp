// Adam, SGD and gradient clipping on the emulated CUDA device (support/emu_device.cpp): the same
// optimizer over device parameters and over CPU parameters, step for step, with the same
// gradients; optimizer state saved on one device and resumed on the other; the norm kernels
// directly against a double loop.
//
// Tolerance: test::device_tolerance (1e-6 relative to max(1, |value|)). The update kernels do
// the CPU update's double arithmetic operation for operation, one rounding each (also on a
// GPU); the CPU fuses Adam's multiply-adds, so the two can differ in the last bit of a double.
// The norm is summed in another (fixed) order than the CPU's running sum, a relative
// difference of ~1e-16 in double.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "modelmix/io/safetensors.hpp"
#include "modelmix/optim/adam.hpp"
#include "modelmix/optim/checkpoint.hpp"
#include "modelmix/optim/clip_grad_norm.hpp"
#include "modelmix/optim/sgd.hpp"
#include "emu/device_compare.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace kernels = modelmix::ops::cuda;

namespace {

// Odd sizes: 7, one element, 54, and 1155 = more than one block of the update kernels (256
// threads) and two blocks of the Σ g² pass (1024 elements a block), so its partials are summed
// by the second pass.
const std::vector<Shape>& parameter_shapes() {
  static const std::vector<Shape> shapes = {Shape{7}, Shape{3, 5, 7, 11}, Shape{1}, Shape{2, 3, 3, 3}};
  return shapes;
}

struct model {
  std::vector<std::unique_ptr<Parameter<float>>> params;
  device where;

  explicit model(device on) : where(on) {
    for (std::size_t k = 0; k < parameter_shapes().size(); ++k)
      params.push_back(std::make_unique<Parameter<float>>(
          test::random_tensor<float>(parameter_shapes()[k], unsigned(10 + k), -2.f, 2.f).to(on)));
  }
  // The values of `other` (any device), copied to this model's device.
  void copy_values(const model& other) {
    for (std::size_t k = 0; k < params.size(); ++k) params[k]->value = other.params[k]->value.to(where);
  }
  [[nodiscard]] optim::named_parameters<float> list() {
    optim::named_parameters<float> out;
    for (std::size_t k = 0; k < params.size(); ++k) out.emplace_back("layer" + std::to_string(k) + ".weight", params[k].get());
    return out;
  }
  // Step-dependent gradients of spread `scale`, made on the host and copied where the model lives.
  void set_gradients(int step, float scale = 1.f) {
    for (std::size_t k = 0; k < params.size(); ++k)
      params[k]->grad =
          test::random_tensor<float>(parameter_shapes()[k], unsigned(100 + 10 * step + k), -scale, scale).to(where);
  }
};

// Largest device_error over the values (and gradients) of two models.
double value_error(const model& got, const model& want) {
  double worst = 0;
  for (std::size_t k = 0; k < got.params.size(); ++k)
    worst = std::max(worst, test::device_error(got.params[k]->value, want.params[k]->value));
  return worst;
}
double gradient_error(const model& got, const model& want) {
  double worst = 0;
  for (std::size_t k = 0; k < got.params.size(); ++k)
    worst = std::max(worst, test::device_error(got.params[k]->grad, want.params[k]->grad));
  return worst;
}

template <class Optimizer>
double state_error(const Optimizer& got, const Optimizer& want) {
  const auto a = got.state(), b = want.state();
  if (a.buffers.size() != b.buffers.size()) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (const auto& [key, buffer] : b.buffers) worst = std::max(worst, test::device_error(a.buffers.at(key), buffer));
  return worst;
}

template <class Optimizer>
bool state_on(const Optimizer& opt, device where) {
  for (const auto& [key, buffer] : opt.state().buffers)
    if (buffer.where() != where) return false;
  return true;
}

template <class Optimizer>
void run(model& m, Optimizer& opt, int from, int to) {
  for (int s = from; s < to; ++s) {
    opt.zero_grad();
    m.set_gradients(s);
    opt.step();
  }
}

// The same optimizer on both devices, `steps` steps, compared after every step.
template <template <class> class Optimizer, class Options>
void check_steps(Options options, int steps) {
  model cpu(device::cpu), dev(device::cuda);
  Optimizer<float> on_cpu(cpu.list(), options), on_dev(dev.list(), options);
  CHECK(state_on(on_dev, device::cuda));
  for (int s = 0; s < steps; ++s) {
    INFO("step " << s);
    run(cpu, on_cpu, s, s + 1);
    run(dev, on_dev, s, s + 1);
    for (const auto& p : dev.params) CHECK(p->value.on_device());
    CHECK(value_error(dev, cpu) <= test::device_tolerance);
    CHECK(state_error(on_dev, on_cpu) <= test::device_tolerance);
  }
  CHECK(on_dev.step_count() == steps);
  CHECK(value_error(dev, model(device::cpu)) > 1e-3);  // the steps moved the values
}

// Saved after 3 of 5 steps on `first`, resumed on `second` in fresh objects: the result must be
// that of 5 uninterrupted CPU steps.
template <template <class> class Optimizer, class Options>
void check_resume(Options options, device first, device second) {
  model straight(device::cpu);
  Optimizer<float> straight_opt(straight.list(), options);
  run(straight, straight_opt, 0, 5);

  io::tensor_archive archive;
  model interrupted(first);
  {
    Optimizer<float> opt(interrupted.list(), options);
    run(interrupted, opt, 0, 3);
    optim::save_optimizer(archive, opt);
  }
  for (const auto& [name, tensor] : archive.tensors)
    std::visit([&](const auto& t) { CHECK_FALSE(t.on_device()); }, tensor);  // stored from the host
  // Through the file format too: the buffers must be host tensors for the writer.
  const io::tensor_archive reread = io::decode_safetensors(io::encode_safetensors(archive), "optim state");

  model resumed(second);
  resumed.copy_values(interrupted);
  Optimizer<float> opt(resumed.list(), options);
  optim::load_optimizer(reread, opt);
  CHECK(opt.step_count() == 3);
  CHECK(state_on(opt, second));  // loaded onto the parameters' device
  run(resumed, opt, 3, 5);
  CHECK(value_error(resumed, straight) <= test::device_tolerance);
  CHECK(state_error(opt, straight_opt) <= test::device_tolerance);
}

bool same_bits(const Tensor<float>& a, const Tensor<float>& b) {
  const Tensor<float> ha = a.to_host(), hb = b.to_host();
  return ha.shape() == hb.shape() && std::memcmp(ha.data(), hb.data(), std::size_t(ha.numel()) * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("Adam on device parameters matches Adam on CPU parameters", "[emu][optim]") {
  SECTION("l2 weight decay") {
    check_steps<optim::Adam>(optim::adam_options{.lr = 1e-2, .weight_decay = 5e-2}, 4);
  }
  SECTION("decoupled weight decay (AdamW)") {
    check_steps<optim::Adam>(
        optim::adam_options{.lr = 1e-2, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.1,
                            .decay = optim::weight_decay_mode::decoupled},
        4);
  }
  SECTION("no weight decay") { check_steps<optim::Adam>(optim::adam_options{.lr = 3e-2}, 3); }
}

TEST_CASE("SGD on device parameters matches SGD on CPU parameters", "[emu][optim]") {
  SECTION("plain") { check_steps<optim::Sgd>(optim::sgd_options{.lr = 0.1}, 3); }
  SECTION("weight decay") { check_steps<optim::Sgd>(optim::sgd_options{.lr = 0.1, .weight_decay = 0.05}, 3); }
  SECTION("momentum, dampening, weight decay") {
    check_steps<optim::Sgd>(optim::sgd_options{.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01}, 4);
  }
  SECTION("nesterov") {
    check_steps<optim::Sgd>(optim::sgd_options{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true}, 4);
  }
}

TEST_CASE("zero_grad clears device gradients on the device", "[emu][optim]") {
  model dev(device::cuda);
  dev.set_gradients(0);
  optim::Sgd<float> sgd(dev.list(), {.lr = 0.1});
  sgd.zero_grad();
  for (const auto& p : dev.params) {
    CHECK(p->grad.on_device());
    const Tensor<float> g = p->grad.to_host();
    for (index_t i = 0; i < g.numel(); ++i) CHECK(g[i] == 0.f);
  }
}

TEST_CASE("optimizer state follows a parameter moved to the device after construction", "[emu][optim]") {
  model cpu(device::cpu), moved(device::cpu);
  optim::Adam<float> on_cpu(cpu.list(), {.lr = 1e-2, .weight_decay = 1e-2});
  optim::Adam<float> on_dev(moved.list(), {.lr = 1e-2, .weight_decay = 1e-2});
  run(cpu, on_cpu, 0, 1);
  run(moved, on_dev, 0, 1);
  for (auto& p : moved.params) p->to(device::cuda);
  moved.where = device::cuda;
  run(cpu, on_cpu, 1, 3);
  run(moved, on_dev, 1, 3);
  CHECK(state_on(on_dev, device::cuda));
  CHECK(value_error(moved, cpu) <= test::device_tolerance);
  CHECK(state_error(on_dev, on_cpu) <= test::device_tolerance);
}

TEST_CASE("optimizer state saved on one device resumes on the other", "[emu][optim]") {
  const device first = GENERATE(device::cuda, device::cpu);
  const device second = first == device::cuda ? device::cpu : device::cuda;
  INFO("saved on " << first << ", resumed on " << second);
  SECTION("adam") { check_resume<optim::Adam>(optim::adam_options{.lr = 1e-2, .weight_decay = 5e-4}, first, second); }
  SECTION("adamw") {
    check_resume<optim::Adam>(
        optim::adam_options{.lr = 1e-2, .weight_decay = 1e-2, .decay = optim::weight_decay_mode::decoupled}, first,
        second);
  }
  SECTION("sgd with momentum") {
    check_resume<optim::Sgd>(optim::sgd_options{.lr = 1e-2, .momentum = 0.9, .dampening = 0.1}, first, second);
  }
}

TEST_CASE("clip_grad_norm on device gradients matches the CPU", "[emu][optim]") {
  model cpu(device::cpu), dev(device::cuda);
  cpu.set_gradients(7);
  dev.set_gradients(7);
  // Σ g² ≈ 1246/3 for 1246 uniform(−1, 1) values: a norm near 20.
  const double max_norm = GENERATE(1.0, 100.0);  // clipped, not clipped
  INFO("max_norm " << max_norm);
  const Tensor<float> before = dev.params[1]->grad.to_host();
  const double want = optim::clip_grad_norm(cpu.list(), max_norm);
  const double got = optim::clip_grad_norm(dev.list(), max_norm);
  REQUIRE(want > 10);
  CHECK(std::abs(got - want) <= 1e-12 * want);
  CHECK(gradient_error(dev, cpu) <= test::device_tolerance);
  for (const auto& p : dev.params) CHECK(p->grad.on_device());
  CHECK(same_bits(dev.params[1]->grad, before) == (max_norm > want));

  // The overload that leaves the norm on the device (nothing waits): the gradients are now
  // below max_norm, so a second clip measures them and leaves them as they are.
  Tensor<double> norm;
  const Tensor<float> clipped = dev.params[1]->grad.to_host();
  optim::clip_grad_norm(dev.list(), max_norm, norm);
  CHECK(norm.on_device());
  CHECK(norm.shape() == Shape{1});
  const double again = optim::clip_grad_norm(cpu.list(), max_norm);
  CHECK(std::abs(norm.to_host()[0] - again) <= 1e-12 * again);
  CHECK(same_bits(dev.params[1]->grad, clipped));
  const double* slot = norm.data();
  optim::clip_grad_norm(dev.list(), max_norm, norm);
  CHECK(norm.data() == slot);  // the caller's tensor is reused, not reallocated
  CHECK(std::abs(norm.to_host()[0] - again) <= 1e-12 * again);
}

TEST_CASE("clip_grad_norm leaves device gradients untouched when the norm is not finite", "[emu][optim]") {
  const float bad = GENERATE(std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity());
  INFO("bad gradient element " << bad);
  model dev(device::cuda);
  dev.set_gradients(3);
  Tensor<float> g = dev.params[1]->grad.to_host();
  g[700] = bad;  // in the second block of the Σ g² pass
  dev.params[1]->grad = g.to(device::cuda);
  std::vector<Tensor<float>> before;
  for (const auto& p : dev.params) before.push_back(p->grad.to_host());
  const double norm = optim::clip_grad_norm(dev.list(), 1.0);
  CHECK_FALSE(std::isfinite(norm));
  CHECK(std::isnan(norm) == std::isnan(bad));
  for (std::size_t k = 0; k < before.size(); ++k) CHECK(same_bits(dev.params[k]->grad, before[k]));
}

TEST_CASE("the gradient norm kernels match a double loop", "[emu][optim]") {
  // Sizes 0 (an empty gradient), 1, 255, 3 blocks' worth + a tail, and 5000 (five partials).
  const std::vector<index_t> sizes = {0, 1, 255, 3 * 1024 + 17, 5000};
  std::vector<Tensor<float>> host, dev;
  std::vector<kernels::grad_view> views;
  double sum = 0;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    host.push_back(test::random_tensor<float>(Shape{sizes[k]}, unsigned(40 + k), -3.f, 3.f));
    for (index_t i = 0; i < sizes[k]; ++i) sum += double(host[k][i]) * double(host[k][i]);
    dev.push_back(host[k].to(device::cuda));
  }
  for (auto& t : dev) views.push_back({t.data(), t.numel()});
  Tensor<double> norm = Tensor<double>::empty(Shape{1}, device::cuda);
  kernels::grad_norm(views.data(), int(views.size()), norm.data());
  const double want = std::sqrt(sum);
  CHECK(std::abs(norm.to_host()[0] - want) <= 1e-12 * want);

  // Scaling reads the norm from device memory: above max_norm it scales, at or below it does not.
  for (const double max_norm : {want / 4, want}) {
    INFO("max_norm " << max_norm);
    std::vector<Tensor<float>> scaled = dev;
    std::vector<kernels::grad_view> sv;
    for (auto& t : scaled) sv.push_back({t.data(), t.numel()});
    kernels::clip_grads(sv.data(), int(sv.size()), norm.data(), max_norm);
    const double s = max_norm / (norm.to_host()[0] + 1e-6);
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      Tensor<float> expected = host[k];
      if (max_norm < want)
        for (float& v : expected.span()) v = float(double(v) * s);
      CHECK(same_bits(scaled[k], expected));
    }
  }

  Tensor<double> empty_norm = Tensor<double>::empty(Shape{1}, device::cuda);
  kernels::grad_norm(nullptr, 0, empty_norm.data());
  CHECK(empty_norm.to_host()[0] == 0.0);
}

TEST_CASE("the optimizers on the device are built for float and refuse mixed devices", "[emu][optim]") {
  Parameter<double> p(Tensor<double>(Shape{3}, 1.0).to(device::cuda));
  optim::named_parameters<double> list = {{"w", &p}};
  optim::Adam<double> adam(list);
  CHECK_THROWS_WITH(adam.step(), Catch::Contains("Adam: the CUDA kernels are built for float tensors"));
  optim::Sgd<double> sgd(list, {.momentum = 0.9});
  CHECK_THROWS_WITH(sgd.step(), Catch::Contains("Sgd: the CUDA kernels are built for float tensors"));
  CHECK_THROWS_WITH(optim::clip_grad_norm(list, 1.0),
                    Catch::Contains("clip_grad_norm: the CUDA kernels are built for float tensors"));

  Parameter<float> on_dev(Tensor<float>(Shape{3}, 1.f).to(device::cuda)), on_cpu(Tensor<float>(Shape{2}, 1.f));
  optim::named_parameters<float> mixed = {{"a", &on_dev}, {"b", &on_cpu}};
  CHECK_THROWS_WITH(optim::clip_grad_norm(mixed, 1.0), Catch::Contains("clip_grad_norm: the gradient of 'b' lives on"));
  on_dev.grad = Tensor<float>(Shape{3});  // value on the device, gradient on the host
  optim::Adam<float> split({{"a", &on_dev}});
  CHECK_THROWS_WITH(split.step(), Catch::Contains("Adam: inputs live on different devices"));
}
