// A small conv network built from the layers learns a toy segmentation (bright disks in
// noise) with SGD and with Adam: the loss must fall by a large factor, not merely decrease.
// A third run trains two networks through network-level mixes of their first conv (the
// ModelMix step, gradients to both parents) to check that training through views works too.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "modelmix/layers/layers.hpp"
#include "modelmix/losses/one_hot.hpp"
#include "modelmix/losses/partial_cross_entropy.hpp"
#include "modelmix/ops/ops.hpp"
#include "modelmix/optim/adam.hpp"
#include "modelmix/optim/sgd.hpp"

using namespace modelmix;
using namespace modelmix::layers;

namespace {

using T = float;
using DiskNet = Sequential<T, Conv2d<T>, BatchNorm2d<T>, ReLU<T>, Conv2d<T>, BatchNorm2d<T>, ReLU<T>, Linear<T>>;

DiskNet make_net(std::uint64_t seed) {
  init_rng rng(seed);
  return DiskNet{Conv2d<T>(conv2d_options{.in_channels = 1, .out_channels = 8, .padding = 1}, rng),
                 BatchNorm2d<T>({8}),
                 ReLU<T>{},
                 Conv2d<T>(conv2d_options{.in_channels = 8, .out_channels = 8, .padding = 1}, rng),
                 BatchNorm2d<T>({8}),
                 ReLU<T>{},
                 Linear<T>(linear_options{.in_features = 8, .out_features = 2}, rng)};
}

// Images [N, 1, S, S]: a disk of intensity 1 (radius 2.5–4.5) in Gaussian noise (σ = 0.35);
// targets: one-hot disk/background.
struct disks {
  Tensor<T> images, targets;
};
disks make_disks(index_t n, index_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::normal_distribution<double> noise(0, 0.35);
  Tensor<T> images(Shape{n, 1, size, size});
  Tensor<std::uint8_t> labels(Shape{n, size, size});
  for (index_t b = 0; b < n; ++b) {
    const double r = 2.5 + 2 * u(rng), cy = r + (size - 2 * r) * u(rng), cx = r + (size - 2 * r) * u(rng);
    for (index_t i = 0; i < size; ++i)
      for (index_t j = 0; j < size; ++j) {
        const bool inside = std::hypot(i + 0.5 - cy, j + 0.5 - cx) < r;
        images(b, 0, i, j) = T((inside ? 1.0 : 0.0) + noise(rng));
        labels(b, i, j) = inside ? 1 : 0;
      }
  }
  return {images, losses::one_hot<T>(labels, 2, -1)};
}

template <class Net>
Var<T> loss_of(Net& net, Tape<T>& tape, const disks& data, const forward_context<T>& ctx) {
  return losses::pce(ops::softmax_channels(net.forward(tape, tape.constant(data.images), ctx)),
                     tape.constant(data.targets));
}

template <class Net>
double eval_loss(Net& net, const disks& data) {
  Tape<T> tape;
  return loss_of(net, tape, data, {.training = false}).value()[0];
}

template <class Optimizer>
std::pair<double, double> train(DiskNet& net, Optimizer& opt, const disks& data, int steps) {
  const double before = eval_loss(net, data);
  for (int step = 0; step < steps; ++step) {
    opt.zero_grad();
    Tape<T> tape;
    tape.backward(loss_of(net, tape, data, {.training = true, .seed = std::uint64_t(step)}));
    opt.step();
  }
  return {before, eval_loss(net, data)};
}

}  // namespace

TEST_CASE("a conv network learns to segment disks with SGD and with Adam", "[layers][training]") {
  const disks data = make_disks(16, 16, 1);
  SECTION("SGD with momentum") {
    DiskNet net = make_net(3);
    optim::Sgd<T> opt(named_parameters(net), {.lr = 0.1, .momentum = 0.9});
    const auto [before, after] = train(net, opt, data, 150);
    INFO("loss " << before << " -> " << after);
    CHECK(after < 0.05 * before);
  }
  SECTION("Adam") {
    DiskNet net = make_net(3);
    optim::Adam<T> opt(named_parameters(net), {.lr = 1e-2});
    const auto [before, after] = train(net, opt, data, 150);
    INFO("loss " << before << " -> " << after);
    CHECK(after < 0.05 * before);
  }
}

TEST_CASE("two networks train through network-level mixes of their first layer", "[layers][training]") {
  const disks data = make_disks(16, 16, 2);
  DiskNet a = make_net(4), b = make_net(5);
  auto params = named_parameters(a, "a");
  for (auto& p : named_parameters(b, "b")) params.push_back(p);
  optim::Adam<T> opt(params, {.lr = 1e-2});
  const double before = eval_loss(a, data) + eval_loss(b, data);
  std::mt19937_64 rng(7);
  for (int step = 0; step < 150; ++step) {
    opt.zero_grad();
    const double lambda = double(rng() >> 11) * 0x1.0p-53;
    auto mixed_a = mix_networks(a, lambda, b, select::path("0"));
    auto mixed_b = mix_networks(b, lambda, a, select::path("0"));
    const forward_context<T> ctx{.training = true, .seed = std::uint64_t(step)};
    Tape<T> tape;
    const Var<T> total = ops::add(ops::add(loss_of(a, tape, data, ctx), loss_of(b, tape, data, ctx)),
                                  ops::add(loss_of(mixed_a, tape, data, ctx), loss_of(mixed_b, tape, data, ctx)));
    tape.backward(total);
    opt.step();
  }
  const double after = eval_loss(a, data) + eval_loss(b, data);
  INFO("loss " << before << " -> " << after);
  CHECK(after < 0.05 * before);
  // the mixed first layer itself is a good model too
  auto half = mix_networks(a, 0.5, b, select::path("0"));
  CHECK(eval_loss(half, data) < 0.2 * before / 2);
}
