// Elementwise ops and full reductions on the emulated CUDA device (support/emu_device.cpp):
// every kernel of ops/cuda/elementwise.cuh through its launch code against the CPU loop it
// mirrors, then whole graphs recorded on a device tape against the same graph on the CPU —
// values and the gradients that reach the leaves.
#include <catch2/catch.hpp>

#include <functional>

#include "modelmix/ops/activation.hpp"
#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/reduce.hpp"
#include "emu/device_compare.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace kernels = modelmix::ops::cuda;


TEST_CASE("each elementwise kernel on the emulated device matches its CPU loop", "[emu][elementwise]") {
  using op = kernels::elementwise_op;
  // 1 element, less than a block, and more than one block (grid-stride tails).
  const index_t n = GENERATE(1, 37, 2 * 256 + 29);
  const Tensor<float> a = test::random_tensor<float>(Shape{n}, 1, -2.f, 2.f);
  const Tensor<float> b = test::random_tensor<float>(Shape{n}, 2, 0.5f, 3.f);  // a divisor in log_backward
  const Tensor<float> y0 = test::random_tensor<float>(Shape{n}, 3);           // what accumulating ops add to
  const float s = 0.75f;
  struct kernel_case {
    op kernel;
    bool assign;
    std::function<void(float*)> cpu;  // the CPU loop on host copies of a, b into y
  };
  const float* pa = a.data();
  const float* pb = b.data();
  const std::vector<kernel_case> cases = {
      {op::axpy, false, [&](float* y) { ops::cpu::axpy(s, pa, y, n); }},
      {op::add_constant, false, [&](float* y) { ops::cpu::add_constant(s, y, n); }},
      {op::add, false, [&](float* y) { ops::cpu::add(pa, pb, y, n); }},
      {op::sub, false, [&](float* y) { ops::cpu::sub(pa, pb, y, n); }},
      {op::mul, false, [&](float* y) { ops::cpu::mul(pa, pb, y, n); }},
      {op::mul_backward, false, [&](float* y) { ops::cpu::mul_backward(pa, pb, y, n); }},
      {op::scale, false, [&](float* y) { ops::cpu::scale(s, pa, y, n); }},
      {op::add_scalar, false, [&](float* y) { ops::cpu::add_scalar(s, pa, y, n); }},
      {op::log, false, [&](float* y) { ops::cpu::log(s, pb, y, n); }},
      {op::log_backward, false, [&](float* y) { ops::cpu::log_backward(s, pb, pa, y, n); }},
      {op::relu, false, [&](float* y) { ops::cpu::relu(pa, y, n); }},
      {op::relu_backward, false, [&](float* y) { ops::cpu::relu_backward(pa, pb, y, n, false); }},
      {op::relu_backward, true, [&](float* y) { ops::cpu::relu_backward(pa, pb, y, n, true); }},
  };
  for (const kernel_case& c : cases) {
    INFO("op " << int(c.kernel) << (c.assign ? " (assign)" : "") << ", n = " << n);
    Tensor<float> expected = y0;
    c.cpu(expected.data());
    // log reads b (positive) where the other unary ops read a.
    const bool reads_b_first = c.kernel == op::log || c.kernel == op::log_backward;
    const Tensor<float> da = (reads_b_first ? b : a).to(device::cuda), db = (reads_b_first ? a : b).to(device::cuda);
    Tensor<float> dy = y0.to(device::cuda);
    kernels::elementwise(
        {.op = c.kernel, .s = s, .a = da.data(), .b = db.data(), .y = dy.data(), .n = n, .assign = c.assign});
    CHECK(test::device_error(dy, expected) <= test::device_tolerance);
  }
}

TEST_CASE("sum on the emulated device adds in double, in a fixed order", "[emu][elementwise]") {
  const index_t n = GENERATE(0, 1, 300, 5000);
  const Tensor<float> x = test::random_tensor<float>(Shape{n}, 4);
  const Tensor<float> dx = x.to(device::cuda);
  Tensor<float> out = Tensor<float>::empty(Shape{1}, device::cuda);
  kernels::sum(dx.data(), n, 4.0, out.data());
  const float first = out.to_host()[0];
  CHECK(double(first) == Approx(ops::cpu::total(x.data(), n) / 4.0).margin(1e-6));
  kernels::sum(dx.data(), n, 4.0, out.data());
  CHECK(out.to_host()[0] == first);  // bit for bit, run after run
}

TEST_CASE("a graph recorded on the emulated device matches the CPU graph, values and gradients", "[emu][elementwise]") {
  // Odd sizes; every differentiable elementwise op and both reductions, with x used three
  // times (gradients from several consumers add up in the device slot).
  const Shape shape{2, 3, 5, 7};
  const Tensor<float> x0 = test::random_tensor<float>(shape, 5), w0 = test::random_tensor<float>(shape, 6);
  const auto graph = [](Tape<float>& tape, const Tensor<float>& x_value, const Tensor<float>& w_value) {
    const Var<float> x = tape.variable(x_value), w = tape.variable(w_value);
    const Var<float> h = ops::relu(ops::mul(ops::add(x, w), ops::sub(x, ops::scale(w, 0.5f))));
    const Var<float> l = ops::log(ops::add_scalar(h, 1.5f), 1e-3f);
    const Var<float> loss = ops::add(ops::mean(ops::mul(l, x)), ops::sum(ops::scale(h, 0.25f)));
    tape.backward(loss);
    return std::tuple{loss.value(), x.grad(), w.grad()};
  };
  Tape<float> on_cpu, on_device;
  const auto [loss_cpu, gx_cpu, gw_cpu] = graph(on_cpu, x0, w0);
  const auto [loss_dev, gx_dev, gw_dev] = graph(on_device, x0.to(device::cuda), w0.to(device::cuda));
  CHECK(loss_dev.on_device());
  CHECK(gx_dev.on_device());
  CHECK(test::device_error(loss_dev, loss_cpu) <= test::device_tolerance);
  CHECK(test::device_error(gx_dev, gx_cpu) <= test::device_tolerance);
  CHECK(test::device_error(gw_dev, gw_cpu) <= test::device_tolerance);
}

TEST_CASE("the device kernels are built for float: a double tensor on the device is refused by name",
          "[emu][elementwise]") {
  Tape<double> tape;
  const Var<double> x = tape.variable(Tensor<double>(Shape{4}, 1.0).to(device::cuda));
  CHECK_THROWS_WITH(ops::relu(x), Catch::Contains("relu: the CUDA kernels are built for float tensors"));
}
