// ops::softmax_channels on the emulated CUDA device (support/emu_device.cpp): the kernels
// through their launch code against the CPU loops they mirror (forward, backward adding and
// assigning), then graphs recorded on a device tape against the same graph on the CPU.
//
// Tolerance: test::device_tolerance (1e-6 relative to max(1, |value|); softmax values are ≤ 1,
// so 1e-6 absolute). The kernels do the CPU loop's float arithmetic in the same order and the
// emulator's expf is the CPU's std::exp(float), so here only FMA contraction could differ. On a
// GPU expf is within 2 ulp of glibc's and the sum and dot of C terms may contract into FMAs:
// an error of a few 1e-7 for the C ≤ 10 channels used here, still inside 1e-6.
#include <catch2/catch.hpp>

#include <tuple>

#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/reduce.hpp"
#include "modelmix/ops/softmax.hpp"
#include "emu/device_compare.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace kernels = modelmix::ops::cuda;

namespace {
// N·S positions: 63 (one block, batch 1), 429 (two blocks), 37 rows of 10 logits (S = 1:
// the classifier layout, channels contiguous), and batch 2 with a single channel (y = 1).
Shape softmax_shape(int which) {
  switch (which) {
    case 0: return Shape{1, 5, 7, 9};
    case 1: return Shape{3, 4, 11, 13};
    case 2: return Shape{37, 10};
    default: return Shape{2, 1, 5, 3};
  }
}
}  // namespace

TEST_CASE("the softmax kernels on the emulated device match the CPU loops", "[emu][softmax]") {
  const Shape shape = softmax_shape(GENERATE(0, 1, 2, 3));
  const float spread = GENERATE(3.f, 100.f);  // 100: exp(x) alone would overflow float (> 88.7)
  INFO("shape " << shape << ", logits in ±" << spread);
  const index_t N = shape[0], C = shape[1], S = shape.stride(1);
  const Tensor<float> x = test::random_tensor<float>(shape, 1, -spread, spread);
  Tensor<float> y(shape);
  ops::cpu::softmax_channels(x.data(), y.data(), N, C, S);
  const Tensor<float> dx = x.to(device::cuda);
  Tensor<float> dy = Tensor<float>::empty(shape, device::cuda);
  kernels::softmax_channels(dx.data(), dy.data(), N, C, S);
  CHECK(test::device_error(dy, y) <= test::device_tolerance);

  const Tensor<float> g = test::random_tensor<float>(shape, 2);
  const Tensor<float> d0 = test::random_tensor<float>(shape, 3);
  const Tensor<float> dg = g.to(device::cuda), dyc = y.to(device::cuda);  // backward reads the CPU's y
  for (const bool assign : {false, true}) {
    INFO((assign ? "assign" : "add"));
    Tensor<float> want = d0;
    ops::cpu::softmax_channels_backward(g.data(), y.data(), want.data(), N, C, S, assign);
    Tensor<float> got = assign ? Tensor<float>::empty(shape, device::cuda) : d0.to(device::cuda);
    kernels::softmax_channels_backward(dg.data(), dyc.data(), got.data(), N, C, S, assign);
    CHECK(test::device_error(got, want) <= test::device_tolerance);
  }
}

TEST_CASE("softmax_channels recorded on the emulated device matches the CPU graph", "[emu][softmax]") {
  const Shape shape = softmax_shape(GENERATE(0, 1, 2));
  INFO("shape " << shape);
  const Tensor<float> x0 = test::random_tensor<float>(shape, 4, -4.f, 4.f), w0 = test::random_tensor<float>(shape, 5);
  const auto graph = [](Tape<float>& tape, const Tensor<float>& x_value, const Tensor<float>& w_value) {
    const Var<float> x = tape.variable(x_value), w = tape.constant(w_value);
    // x reaches the loss twice: through the softmax and directly (the device slot adds both).
    const Var<float> y = ops::softmax_channels(x);
    const Var<float> loss = ops::add(ops::sum(ops::mul(y, w)), ops::mean(ops::mul(x, w)));
    tape.backward(loss);
    return std::tuple{y.value(), loss.value(), x.grad()};
  };
  Tape<float> on_cpu, on_device;
  const auto [y_cpu, loss_cpu, gx_cpu] = graph(on_cpu, x0, w0);
  const auto [y_dev, loss_dev, gx_dev] = graph(on_device, x0.to(device::cuda), w0.to(device::cuda));
  CHECK(y_dev.on_device());
  CHECK(gx_dev.on_device());
  CHECK(test::device_error(y_dev, y_cpu) <= test::device_tolerance);
  CHECK(test::device_error(loss_dev, loss_cpu) <= test::device_tolerance);
  CHECK(test::device_error(gx_dev, gx_cpu) <= test::device_tolerance);
}

TEST_CASE("softmax_channels on the device is built for float", "[emu][softmax]") {
  Tape<double> tape;
  const Var<double> x = tape.variable(Tensor<double>(Shape{1, 2, 3}, 1.0).to(device::cuda));
  CHECK_THROWS_WITH(ops::softmax_channels(x),
                    Catch::Contains("softmax_channels: the CUDA kernels are built for float tensors"));
}
