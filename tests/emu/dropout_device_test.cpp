// ops::dropout on the emulated CUDA device (support/emu_device.cpp): the kernel through its
// launch code against the CPU loop it mirrors, the mask of a seeded run (the layer's per-step
// seeds) equal on both devices in training and evaluation mode, and graphs recorded on a
// device tape against the same graph on the CPU.
#include <catch2/catch.hpp>

#include <cstdint>
#include <tuple>

#include "modelmix/layers/dropout.hpp"
#include "modelmix/ops/dropout.hpp"
#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/reduce.hpp"
#include "emu/device_compare.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace kernels = modelmix::ops::cuda;

TEST_CASE("the dropout kernel on the emulated device matches the CPU loop", "[emu][dropout]") {
  // 1 element, less than a block, and more than one block (grid-stride tails).
  const index_t n = GENERATE(1, 37, 2 * 256 + 29);
  const double p = 0.3;
  const std::uint64_t seed_hash = splitmix64(99), threshold = ops::detail::dropout_threshold(p);
  const float keep_scale = 1.f / (1.f - float(p));
  const Tensor<float> in = test::random_tensor<float>(Shape{n}, 1), out0 = test::random_tensor<float>(Shape{n}, 2);
  const Tensor<float> din = in.to(device::cuda);
  for (const bool accumulate : {false, true}) {
    INFO("n = " << n << (accumulate ? ", accumulate" : ", overwrite"));
    Tensor<float> want = out0;
    ops::cpu::dropout_apply(in.data(), want.data(), accumulate, n, keep_scale, seed_hash, threshold);
    // Overwriting starts from the device's NaN fill: every element must be written.
    Tensor<float> got = accumulate ? out0.to(device::cuda) : Tensor<float>::empty(Shape{n}, device::cuda);
    kernels::dropout_apply(din.data(), got.data(), accumulate, n, keep_scale, seed_hash, threshold);
    CHECK(test::device_error(got, want) <= test::device_tolerance);
  }
}

TEST_CASE("a seeded dropout layer drops the same units on the emulated device as on the CPU", "[emu][dropout]") {
  const Shape shape = GENERATE(Shape{1, 3, 7, 9}, Shape{2, 4, 9, 11});  // 189 and 792 elements
  layers::Dropout<float> layer({.p = 0.4, .stream = 5});
  const Tensor<float> x = test::random_tensor<float>(shape, 7, 0.5f, 1.5f);  // no zeros in x
  const Tensor<float> dx = x.to(device::cuda);
  for (const std::uint64_t step : {0u, 1u, 17u}) {
    for (const bool training : {true, false}) {
      INFO("shape " << shape << ", step " << step << (training ? ", training" : ", evaluation"));
      const layers::forward_context<float> ctx{.training = training, .seed = step};
      Tape<float> on_cpu, on_device;
      const Var<float> x_cpu = on_cpu.constant(x), x_dev = on_device.constant(dx);
      const Var<float> y_cpu = layer.forward(on_cpu, x_cpu, ctx), y_dev = layer.forward(on_device, x_dev, ctx);
      CHECK(y_dev.value().on_device());
      // Evaluation: the identity, the input Var itself on both devices.
      CHECK((y_cpu.id() == x_cpu.id()) == !training);
      CHECK((y_dev.id() == x_dev.id()) == !training);
      const Tensor<float> got = y_dev.value().to_host();
      const Tensor<float>& want = y_cpu.value();
      index_t dropped = 0, mask_mismatches = 0;
      for (index_t i = 0; i < x.numel(); ++i) {
        dropped += want[i] == 0.f;
        mask_mismatches += (got[i] == 0.f) != (want[i] == 0.f);
      }
      CHECK(mask_mismatches == 0);
      CHECK((dropped > 0) == training);
      CHECK(test::device_error(y_dev.value(), want) <= test::device_tolerance);
    }
  }
  // Consecutive steps draw different masks (on the device too).
  Tape<float> tape;
  const Var<float> v = tape.constant(dx);
  const Tensor<float> m0 = layer.forward(tape, v, {.training = true, .seed = 0}).value().to_host();
  const Tensor<float> m1 = layer.forward(tape, v, {.training = true, .seed = 1}).value().to_host();
  CHECK(m0.storage() != m1.storage());
}

TEST_CASE("dropout recorded on the emulated device matches the CPU graph", "[emu][dropout]") {
  const Shape shape = GENERATE(Shape{1, 3, 7, 9}, Shape{3, 2, 9, 11});
  INFO("shape " << shape);
  const Tensor<float> x0 = test::random_tensor<float>(shape, 8), w0 = test::random_tensor<float>(shape, 9);
  const auto graph = [](Tape<float>& tape, const Tensor<float>& x_value, const Tensor<float>& w_value) {
    const Var<float> x = tape.variable(x_value), w = tape.constant(w_value);
    // x reaches the loss through two dropouts with different seeds and directly.
    const Var<float> h = ops::add(ops::dropout(x, 0.25f, 1234, true), ops::dropout(x, 0.6f, 77, true));
    const Var<float> loss = ops::add(ops::sum(ops::mul(h, w)), ops::mean(ops::mul(x, w)));
    tape.backward(loss);
    return std::tuple{h.value(), loss.value(), x.grad()};
  };
  Tape<float> on_cpu, on_device;
  const auto [h_cpu, loss_cpu, gx_cpu] = graph(on_cpu, x0, w0);
  const auto [h_dev, loss_dev, gx_dev] = graph(on_device, x0.to(device::cuda), w0.to(device::cuda));
  CHECK(h_dev.on_device());
  CHECK(gx_dev.on_device());
  CHECK(test::device_error(h_dev, h_cpu) <= test::device_tolerance);
  CHECK(test::device_error(loss_dev, loss_cpu) <= test::device_tolerance);
  CHECK(test::device_error(gx_dev, gx_cpu) <= test::device_tolerance);
}

TEST_CASE("dropout on the device is built for float", "[emu][dropout]") {
  Tape<double> tape;
  const Var<double> x = tape.variable(Tensor<double>(Shape{1, 2, 3}, 1.0).to(device::cuda));
  CHECK_THROWS_WITH(ops::dropout(x, 0.5, 1, true), Catch::Contains("dropout: the CUDA kernels are built for float tensors"));
}
