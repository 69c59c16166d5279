// 2×2 max pooling on the emulated CUDA device (support/emu_device.cpp): the kernels of
// ops/cuda/pooling.cuh through their launch code against the CPU loops they mirror (argmax bytes
// included, accumulating and assigning backward), then ops::max_pool2d recorded on a device tape
// against the same graph on the CPU — values and the gradient that reaches the input.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <memory>
#include <tuple>
#include <vector>

#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/pooling.hpp"
#include "modelmix/ops/reduce.hpp"
#include "emu/device_compare.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace kernels = modelmix::ops::cuda;

namespace {

// Values on a coarse grid (quarters in [-1, 1]): many 2×2 windows hold a tied maximum.
Tensor<float> tied_tensor(const Shape& s, unsigned seed) {
  Tensor<float> t = test::random_tensor<float>(s, seed);
  for (index_t i = 0; i < t.numel(); ++i) t[i] = std::round(t[i] * 4.f) / 4.f;
  return t;
}

// A device byte buffer that frees itself.
std::shared_ptr<std::uint8_t> device_bytes(std::size_t n) {
  return {static_cast<std::uint8_t*>(modelmix::detail::device_allocate(n)), modelmix::detail::device_deleter{}};
}
std::vector<std::uint8_t> to_host_bytes(const std::uint8_t* p, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  modelmix::detail::device_copy(out.data(), p, n, modelmix::detail::copy_direction::device_to_host);
  return out;
}

}  // namespace

TEST_CASE("the max_pool2d kernels on the emulated device match the CPU loops, argmax and ties included",
          "[emu][pooling]") {
  // Odd H and W (floor), batch 1 and > 1, one block and several (256 threads a block); the
  // tied input makes the first-maximum rule decide many windows.
  const auto [shape, tied] = GENERATE(std::tuple{Shape{1, 1, 2, 2}, false}, std::tuple{Shape{1, 3, 5, 7}, true},
                                      std::tuple{Shape{2, 3, 17, 13}, false}, std::tuple{Shape{2, 3, 17, 13}, true});
  INFO("shape " << shape << (tied ? " (tied values)" : ""));
  const index_t planes = shape[0] * shape[1], H = shape[2], W = shape[3], Ho = H / 2, Wo = W / 2;
  const Tensor<float> x = tied ? tied_tensor(shape, 11) : test::random_tensor<float>(shape, 11);
  const Shape out_shape{shape[0], shape[1], Ho, Wo};
  const auto outputs = static_cast<std::size_t>(out_shape.numel());

  Tensor<float> y_cpu(out_shape);
  std::vector<std::uint8_t> argmax_cpu(outputs);
  ops::cpu::max_pool2d(x.data(), y_cpu.data(), argmax_cpu.data(), planes, H, W, Ho, Wo);

  const Tensor<float> dx = x.to(device::cuda);
  Tensor<float> dy = Tensor<float>::empty(out_shape, device::cuda);
  const auto dargmax = device_bytes(outputs);
  kernels::max_pool2d(dx.data(), dy.data(), dargmax.get(), planes, H, W, Ho, Wo);
  CHECK(test::device_error(dy, y_cpu) == 0.0);  // a maximum is exact
  CHECK(to_host_bytes(dargmax.get(), outputs) == argmax_cpu);

  // Backward from the same argmax bytes into a gradient holding values already: += and =.
  const Tensor<float> g = test::random_tensor<float>(out_shape, 12);
  const Tensor<float> d0 = test::random_tensor<float>(shape, 13);
  const Tensor<float> dg = g.to(device::cuda);
  for (const bool assign : {false, true}) {
    INFO((assign ? "assign" : "accumulate"));
    Tensor<float> expected = d0;
    ops::cpu::max_pool2d_backward(g.data(), argmax_cpu.data(), expected.data(), planes, H, W, Ho, Wo, assign);
    Tensor<float> dd = d0.to(device::cuda);
    kernels::max_pool2d_backward(dg.data(), dargmax.get(), dd.data(), planes, H, W, Ho, Wo, assign);
    CHECK(test::device_error(dd, expected) == 0.0);  // one term per element: exact
  }
}

TEST_CASE("max_pool2d recorded on the emulated device matches the CPU graph, values and gradients",
          "[emu][pooling]") {
  const auto [shape, tied] = GENERATE(std::tuple{Shape{1, 2, 5, 7}, false}, std::tuple{Shape{1, 2, 5, 7}, true},
                                      std::tuple{Shape{2, 3, 17, 13}, true});
  INFO("shape " << shape << (tied ? " (tied values)" : ""));
  const Tensor<float> x0 = tied ? tied_tensor(shape, 21) : test::random_tensor<float>(shape, 21);
  const Tensor<float> w0 = test::random_tensor<float>(Shape{shape[0], shape[1], shape[2] / 2, shape[3] / 2}, 22);
  const Tensor<float> v0 = test::random_tensor<float>(shape, 23);
  // x is read twice: the pooled path and a direct product, so the device slot accumulates.
  const auto graph = [](Tape<float>& tape, const Tensor<float>& x_value, const Tensor<float>& w_value,
                        const Tensor<float>& v_value) {
    const Var<float> x = tape.variable(x_value), w = tape.constant(w_value), v = tape.constant(v_value);
    const Var<float> y = ops::max_pool2d(x);
    const Var<float> loss = ops::add(ops::sum(ops::mul(y, w)), ops::sum(ops::mul(x, v)));
    tape.backward(loss);
    return std::tuple{y.value(), loss.value(), x.grad()};
  };
  Tape<float> on_cpu, on_device;
  const auto [y_cpu, loss_cpu, gx_cpu] = graph(on_cpu, x0, w0, v0);
  const auto [y_dev, loss_dev, gx_dev] =
      graph(on_device, x0.to(device::cuda), w0.to(device::cuda), v0.to(device::cuda));
  CHECK(y_dev.on_device());
  CHECK(gx_dev.on_device());
  CHECK(test::device_error(y_dev, y_cpu) <= test::device_tolerance);
  CHECK(test::device_error(loss_dev, loss_cpu) <= test::device_tolerance);
  CHECK(test::device_error(gx_dev, gx_cpu) <= test::device_tolerance);
}

TEST_CASE("max_pool2d on the emulated device sends a tied window's gradient to its first maximum only",
          "[emu][pooling]") {
  // The CPU test's windows: all equal, and the maximum repeated at positions 1 and 3.
  Tape<float> tape;
  const Var<float> x =
      tape.variable(Tensor<float>(Shape{1, 1, 2, 4}, std::vector<float>{1, 1, 0, 5, 1, 1, 2, 5}).to(device::cuda));
  tape.backward(ops::sum(ops::max_pool2d(x)));
  CHECK(x.grad().to_host().storage() == std::vector<float>{1, 0, 0, 1, 0, 0, 0, 0});
}

TEST_CASE("max_pool2d on the device refuses double tensors by name", "[emu][pooling]") {
  Tape<double> tape;
  const Var<double> x = tape.variable(Tensor<double>(Shape{1, 1, 2, 2}, 1.0).to(device::cuda));
  CHECK_THROWS_WITH(ops::max_pool2d(x), Catch::Contains("max_pool2d: the CUDA kernels are built for float tensors"));
}
