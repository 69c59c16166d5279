// The losses of a ModelMix step (losses/one_hot, pce, dice in both variants,
// cosine_consistency / cosine_invariance) and ops::cosine_similarity on the emulated CUDA
// device (support/emu_device.cpp): the one-hot kernels directly against the CPU loop, then each
// loss recorded on a device tape against the same graph on the CPU — the loss value (written on
// the device) and the gradients into both inputs, read from device slots.
//
// Tolerance: test::device_tolerance (1e-6 relative to max(1, |value|)). The sums are in double
// on both sides, only in a different order (the CPU's OpenMP reduction against the kernels'
// fixed strided order): a relative difference of ~1e-15 before the rounding to float, so the
// float results agree to the last bit or one ulp (≤ 1.2e-7 relative).
#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <tuple>
#include <vector>

#include "emu/device_compare.hpp"
#include "losses/random_targets.hpp"
#include "modelmix/losses/cosine_consistency.hpp"
#include "modelmix/losses/dice.hpp"
#include "modelmix/losses/one_hot.hpp"
#include "modelmix/losses/partial_cross_entropy.hpp"
#include "modelmix/ops/cosine_similarity.hpp"
#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/reduce.hpp"
#include "modelmix/ops/reshape.hpp"
#include "modelmix/ops/softmax.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace kernels = modelmix::ops::cuda;

namespace {

constexpr int ignore_label = 4;

// [N, C, H, W]: batch 1 with odd sides; batch 2, 4 classes; batch 3, 2 classes, one row; and a
// plane of 300 pixels (more than one 256-thread block's stride, two grid blocks for the kernels
// over N·C·plane).
Shape loss_shape(int which) {
  switch (which) {
    case 0: return Shape{1, 3, 5, 7};
    case 1: return Shape{2, 4, 3, 5};
    case 2: return Shape{3, 2, 1, 9};
    default: return Shape{1, 3, 15, 20};
  }
}

Tensor<std::uint8_t> labels_for(const Shape& shape, unsigned seed, bool all_ignored) {
  Tensor<std::uint8_t> labels = test::random_labels(Shape{shape[0], shape[2], shape[3]}, int(shape[1]), ignore_label,
                                                    seed);
  if (all_ignored) labels.fill(std::uint8_t(ignore_label));
  return labels;
}

// One-hot targets with ignored (all-zero) pixels, or soft targets as after mixup:
// β·onehot(l1) + (1 − β)·onehot(l2) per sample.
Tensor<float> targets_for(const Shape& shape, unsigned seed, int kind) {
  const int classes = int(shape[1]);
  const Tensor<float> y1 = losses::one_hot<float>(labels_for(shape, seed, kind == 2), classes, ignore_label);
  if (kind != 1) return y1;
  const Tensor<float> y2 = losses::one_hot<float>(labels_for(shape, seed + 100, false), classes, ignore_label);
  Tensor<float> y(shape);
  const index_t per = shape.numel() / shape[0];
  for (index_t i = 0; i < y.numel(); ++i) {
    const double beta = 0.2 + 0.5 * double(i / per) / double(shape[0]);
    y[i] = float(beta * double(y1[i]) + (1 - beta) * double(y2[i]));
  }
  return y;
}

using loss_fn = std::function<Var<float>(const Var<float>&, const Var<float>&)>;

// loss(p, y)·w + mean(p·y) recorded with p and y both variables (so both gradients are
// checked and the backward reads an incoming gradient g ≠ 1 where it lives). p and y also reach
// the total directly, through ops recorded after the loss: their gradient slots already hold
// that part when the loss's backward adds its own.
auto run_graph(Tape<float>& tape, const loss_fn& loss, const Tensor<float>& p0, const Tensor<float>& y0,
               const Tensor<float>& w0) {
  const Var<float> p = tape.variable(p0), y = tape.variable(y0), w = tape.constant(w0);
  const Var<float> value = loss(p, y);
  const Var<float> direct = ops::mean(ops::mul(p, y));
  tape.backward(ops::add(ops::mul(value, w), direct));
  return std::tuple{value.value(), p.grad(), y.grad()};
}

void check_against_cpu(const loss_fn& loss, const Tensor<float>& p0, const Tensor<float>& y0) {
  const Tensor<float> w0(Shape{1}, 0.75f);
  Tape<float> on_cpu, on_device;
  const auto [l_cpu, gp_cpu, gy_cpu] = run_graph(on_cpu, loss, p0, y0, w0);
  const auto [l_dev, gp_dev, gy_dev] =
      run_graph(on_device, loss, p0.to(device::cuda), y0.to(device::cuda), w0.to(device::cuda));
  CHECK(l_dev.on_device());
  CHECK(gp_dev.on_device());
  INFO("loss on the CPU " << l_cpu[0] << ", on the device " << l_dev.to_host()[0]);
  CHECK(test::device_error(l_dev, l_cpu) <= test::device_tolerance);
  CHECK(test::device_error(gp_dev, gp_cpu) <= test::device_tolerance);
  CHECK(test::device_error(gy_dev, gy_cpu) <= test::device_tolerance);
}

}  // namespace

TEST_CASE("the one_hot kernels on the emulated device match the CPU loop", "[emu][losses]") {
  const Shape shape = loss_shape(GENERATE(0, 1, 2, 3));
  const index_t n = shape[0], classes = shape[1], plane = shape[2] * shape[3];
  INFO("shape " << shape);
  Tensor<std::uint8_t> labels = labels_for(shape, 7, false);
  Tensor<float> want = Tensor<float>::zeros(shape);
  REQUIRE(ops::cpu::one_hot(labels.data(), want.data(), n, plane, int(classes), ignore_label) == -1);
  const Tensor<std::uint8_t> dl = labels.to(device::cuda);
  Tensor<float> got = Tensor<float>::empty(shape, device::cuda);  // NaN-filled: every element must be written
  kernels::one_hot(dl.data(), got.data(), n, plane, int(classes), ignore_label);
  CHECK(test::device_error(got, want) <= 0.0);

  const auto first_invalid = [&](const Tensor<std::uint8_t>& l, int ignore) {
    const Tensor<std::uint8_t> d = l.to(device::cuda);
    Tensor<int> bad = Tensor<int>::empty(Shape{1}, device::cuda);
    kernels::one_hot_first_invalid(d.data(), n, plane, int(classes), ignore, bad.data());
    return bad.to_host()[0];
  };
  CHECK(first_invalid(labels, ignore_label) == -1);
  // ignore −1: the ignore labels (4 ≥ classes) become the invalid ones; the first is the CPU's.
  Tensor<float> scratch = Tensor<float>::zeros(shape);
  CHECK(first_invalid(labels, -1) ==
        int(ops::cpu::one_hot(labels.data(), scratch.data(), n, plane, int(classes), -1)));
  // Two invalid labels far apart (the later one in a lower thread's share).
  const index_t total = n * plane, early = total - 2, late = total - 1;
  labels[late] = 200;
  CHECK(first_invalid(labels, ignore_label) == int(late));
  labels[early] = 9;
  labels[0] = 0;
  CHECK(first_invalid(labels, ignore_label) == int(early));
}

TEST_CASE("one_hot on the emulated device matches the CPU op, errors included", "[emu][losses]") {
  const Shape shape = loss_shape(GENERATE(0, 1, 3));
  INFO("shape " << shape);
  const Tensor<std::uint8_t> labels = labels_for(shape, 11, false);
  const Tensor<float> want = losses::one_hot<float>(labels, int(shape[1]), ignore_label);
  const Tensor<float> got = losses::one_hot<float>(labels.to(device::cuda), int(shape[1]), ignore_label);
  CHECK(got.on_device());
  CHECK(test::device_error(got, want) <= 0.0);

  Tensor<std::uint8_t> small(Shape{1, 1, 3}, std::vector<std::uint8_t>{0, 4, 2});
  const Tensor<std::uint8_t> d = small.to(device::cuda);
  CHECK_THROWS_WITH(losses::one_hot<float>(d, 2, 4), Catch::Contains("label 2 at (n=0, h=0, w=2)"));
  CHECK_THROWS_WITH(losses::one_hot<float>(d, 3, -1), Catch::Contains("label 4 at (n=0, h=0, w=1)"));
}

TEST_CASE("pce and dice on a device tape match the CPU graph", "[emu][losses]") {
  const Shape shape = loss_shape(GENERATE(0, 1, 2, 3));
  const int kind = GENERATE(0, 1, 2);  // one-hot with ignored pixels, soft (mixup), all ignored
  INFO("shape " << shape << ", targets " << (kind == 0 ? "one-hot" : kind == 1 ? "soft" : "all ignored"));
  const Tensor<float> p0 = test::to_float(test::random_probabilities(shape, 3));
  const Tensor<float> y0 = targets_for(shape, 5, kind);
  SECTION("pce, eps 1e-10") {
    check_against_cpu([](const Var<float>& p, const Var<float>& y) { return losses::pce(p, y); }, p0, y0);
  }
  SECTION("pce, eps 1e-5") {
    check_against_cpu([](const Var<float>& p, const Var<float>& y) { return losses::pce(p, y, 1e-5); }, p0, y0);
  }
  SECTION("dice, scribbled") {
    check_against_cpu([](const Var<float>& p, const Var<float>& y) { return losses::dice(p, y); }, p0, y0);
  }
  SECTION("dice, global (the original's)") {
    check_against_cpu(
        [](const Var<float>& p, const Var<float>& y) { return losses::dice(p, y, losses::dice_options::original()); },
        p0, y0);
  }
  SECTION("dice, global, smooth 1") {
    check_against_cpu(
        [](const Var<float>& p, const Var<float>& y) {
          return losses::dice(p, y, {losses::dice_variant::global, 1.0});
        },
        p0, y0);
  }
}

TEST_CASE("dice on the device with a class absent from the scribbles matches the CPU", "[emu][losses]") {
  const Shape shape = loss_shape(1);
  Tensor<std::uint8_t> labels = labels_for(shape, 13, false);
  for (index_t i = 0; i < labels.numel(); ++i)
    if (labels[i] == 2) labels[i] = std::uint8_t(ignore_label);  // class 2 absent: B_2 = −1, K = 3
  const Tensor<float> y0 = losses::one_hot<float>(labels, int(shape[1]), ignore_label);
  const Tensor<float> p0 = test::to_float(test::random_probabilities(shape, 14));
  check_against_cpu([](const Var<float>& p, const Var<float>& y) { return losses::dice(p, y); }, p0, y0);
}

TEST_CASE("pce from logits through one_hot, softmax and a sum of losses on the device", "[emu][losses]") {
  // The shape of a ModelMix supervised term: one_hot on device labels, softmax, pce + dice.
  const Shape shape = loss_shape(GENERATE(0, 1));
  INFO("shape " << shape);
  const Tensor<float> x0 = test::random_tensor<float>(shape, 21, -3.f, 3.f);
  const Tensor<std::uint8_t> labels = labels_for(shape, 22, false);
  const auto graph = [&](Tape<float>& tape, device where) {
    const Var<float> x = tape.variable(x0.to(where));
    const Var<float> y = tape.constant(losses::one_hot<float>(labels.to(where), int(shape[1]), ignore_label));
    const Var<float> p = ops::softmax_channels(x);
    const Var<float> loss = ops::add(losses::pce(p, y), losses::dice(p, y));
    tape.backward(loss);
    return std::tuple{loss.value(), x.grad()};
  };
  Tape<float> on_cpu, on_device;
  const auto [l_cpu, gx_cpu] = graph(on_cpu, device::cpu);
  const auto [l_dev, gx_dev] = graph(on_device, device::cuda);
  CHECK(l_dev.on_device());
  CHECK(test::device_error(l_dev, l_cpu) <= test::device_tolerance);
  CHECK(test::device_error(gx_dev, gx_cpu) <= test::device_tolerance);
}

TEST_CASE("cosine consistency and invariance on a device tape match the CPU graph", "[emu][losses]") {
  const Shape shape = loss_shape(GENERATE(0, 1, 2, 3));
  const bool zero_group = GENERATE(false, true);  // group (0, 0) of a all zero: the eps clamp
  INFO("shape " << shape << (zero_group ? ", a zero group" : ""));
  Tensor<float> a0 = test::random_tensor<float>(shape, 31);
  const Tensor<float> b0 = test::random_tensor<float>(shape, 32);
  if (zero_group)
    for (index_t i = 0; i < shape[2] * shape[3]; ++i) a0[i] = 0.f;
  SECTION("consistency") {
    check_against_cpu(
        [](const Var<float>& a, const Var<float>& b) { return losses::cosine_consistency(a, b); }, a0, b0);
  }
  SECTION("invariance") {
    check_against_cpu(
        [](const Var<float>& a, const Var<float>& b) { return losses::cosine_invariance(a, b); }, a0, b0);
  }
}

TEST_CASE("cosine_similarity on a device tape matches the CPU graph", "[emu][losses]") {
  // first reduced axis 0, 1, 2, 3: rows 1, N, N·C, N·C·H; a zero first row: the eps clamp.
  const auto [which, axis, zero_row] = GENERATE(table<int, int, bool>(
      {{0, 0, false}, {0, 2, true}, {1, 1, false}, {1, 3, true}, {2, 2, false}, {2, 0, true}, {3, 2, false}}));
  const Shape shape = loss_shape(which);
  INFO("shape " << shape << ", first reduced axis " << axis << (zero_row ? ", a zero row" : ""));
  Tensor<float> a0 = test::random_tensor<float>(shape, 41);
  const Tensor<float> b0 = test::random_tensor<float>(shape, 42);
  if (zero_row)
    for (index_t i = 0; i < shape.stride(axis) * shape[axis]; ++i) a0[i] = 0.f;
  const Tensor<float> w0 = test::random_tensor<float>(Shape{shape.numel() / (shape.stride(axis) * shape[axis])}, 43);
  const auto graph = [&](Tape<float>& tape, device where) {
    const Var<float> a = tape.variable(a0.to(where)), b = tape.variable(b0.to(where));
    const Var<float> y = ops::cosine_similarity(a, b, axis);
    // a and b also reach the total directly (recorded after: their slots are not fresh).
    tape.backward(ops::add(ops::sum(ops::mul(ops::reshape(y, w0.shape()), tape.constant(w0.to(where)))),
                           ops::mean(ops::mul(a, b))));
    return std::tuple{y.value(), a.grad(), b.grad()};
  };
  Tape<float> on_cpu, on_device;
  const auto [y_cpu, ga_cpu, gb_cpu] = graph(on_cpu, device::cpu);
  const auto [y_dev, ga_dev, gb_dev] = graph(on_device, device::cuda);
  CHECK(y_dev.on_device());
  CHECK(test::device_error(y_dev, y_cpu) <= test::device_tolerance);
  CHECK(test::device_error(ga_dev, ga_cpu) <= test::device_tolerance);
  CHECK(test::device_error(gb_dev, gb_cpu) <= test::device_tolerance);
}

TEST_CASE("the losses on the device are built for float", "[emu][losses]") {
  Tape<double> tape;
  const Tensor<double> t = Tensor<double>(Shape{1, 2, 1, 3}, 0.5).to(device::cuda);
  const Var<double> p = tape.variable(t), y = tape.variable(t);
  CHECK_THROWS_WITH(losses::pce(p, y), Catch::Contains("pce: the CUDA kernels are built for float tensors"));
  CHECK_THROWS_WITH(losses::dice(p, y), Catch::Contains("dice: the CUDA kernels are built for float tensors"));
  CHECK_THROWS_WITH(losses::dice(p, y, losses::dice_options::original()),
                    Catch::Contains("dice: the CUDA kernels are built for float tensors"));
  CHECK_THROWS_WITH(losses::cosine_consistency(p, y),
                    Catch::Contains("cosine_consistency: the CUDA kernels are built for float tensors"));
  CHECK_THROWS_WITH(ops::cosine_similarity(p, y, 1),
                    Catch::Contains("cosine_similarity: the CUDA kernels are built for float tensors"));
  const Tensor<std::uint8_t> labels = Tensor<std::uint8_t>(Shape{1, 1, 3}, std::uint8_t(0)).to(device::cuda);
  CHECK_THROWS_WITH(losses::one_hot<double>(labels, 2, 4),
                    Catch::Contains("one_hot: the CUDA kernels are built for float tensors"));
}
