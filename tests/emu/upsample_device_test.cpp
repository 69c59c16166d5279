// 2× upsampling on the emulated CUDA device (support/emu_device.cpp): the kernels of
// ops/cuda/upsample.cuh through their launch code against the CPU loops they mirror (backward
// gathers into a gradient holding values already, accumulating and assigning), then the ops
// recorded on a device tape against the same graph on the CPU — values and input gradients.
#include <catch2/catch.hpp>

#include <tuple>

#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/reduce.hpp"
#include "modelmix/ops/upsample.hpp"
#include "emu/device_compare.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace kernels = modelmix::ops::cuda;

namespace {
// 1×1 and single-row/column planes (both bilinear clamps on one element), odd sizes, batch 1
// and > 1, inputs and outputs spanning several 256-thread blocks.
const Shape upsample_shapes[] = {Shape{1, 1, 1, 1}, Shape{1, 3, 1, 6}, Shape{2, 1, 5, 1}, Shape{1, 2, 3, 5},
                                 Shape{2, 3, 7, 5}, Shape{2, 2, 11, 13}};
}  // namespace

TEST_CASE("the upsample kernels on the emulated device match the CPU loops", "[emu][upsample]") {
  const int which = GENERATE(range(0, int(std::size(upsample_shapes))));
  const Shape shape = upsample_shapes[which];
  INFO("shape " << shape);
  const index_t planes = shape[0] * shape[1], H = shape[2], W = shape[3];
  const Shape out_shape{shape[0], shape[1], 2 * H, 2 * W};
  const Tensor<float> x = test::random_tensor<float>(shape, 31);
  const Tensor<float> g = test::random_tensor<float>(out_shape, 32);
  const Tensor<float> d0 = test::random_tensor<float>(shape, 33);  // what the backward adds to
  const Tensor<float> dx = x.to(device::cuda), dg = g.to(device::cuda);

  SECTION("nearest") {
    Tensor<float> y_cpu(out_shape);
    ops::cpu::upsample_nearest2x(x.data(), y_cpu.data(), planes, H, W);
    Tensor<float> dy = Tensor<float>::empty(out_shape, device::cuda);
    kernels::upsample_nearest2x(dx.data(), dy.data(), planes, H, W);
    CHECK(test::device_error(dy, y_cpu) == 0.0);  // a copy
    for (const bool assign : {false, true}) {
      INFO((assign ? "assign" : "accumulate"));
      Tensor<float> expected = d0;
      ops::cpu::upsample_nearest2x_backward(g.data(), expected.data(), planes, H, W, assign);
      Tensor<float> dd = d0.to(device::cuda);
      kernels::upsample_nearest2x_backward(dg.data(), dd.data(), planes, H, W, assign);
      CHECK(test::device_error(dd, expected) <= test::device_tolerance);
    }
  }
  SECTION("bilinear") {
    Tensor<float> y_cpu(out_shape);
    ops::cpu::upsample_bilinear2x(x.data(), y_cpu.data(), planes, H, W);
    Tensor<float> dy = Tensor<float>::empty(out_shape, device::cuda);
    kernels::upsample_bilinear2x(dx.data(), dy.data(), planes, H, W);
    CHECK(test::device_error(dy, y_cpu) <= test::device_tolerance);
    Tensor<float> expected = d0;
    ops::cpu::upsample_bilinear2x_backward(g.data(), expected.data(), planes, H, W);
    Tensor<float> dd = d0.to(device::cuda);
    kernels::upsample_bilinear2x_backward(dg.data(), dd.data(), planes, H, W);
    CHECK(test::device_error(dd, expected) <= test::device_tolerance);
    // A gather in a fixed order: the same bits run after run.
    Tensor<float> again = d0.to(device::cuda);
    kernels::upsample_bilinear2x_backward(dg.data(), again.data(), planes, H, W);
    CHECK(again.to_host().storage() == dd.to_host().storage());
  }
}

TEST_CASE("upsampling recorded on the emulated device matches the CPU graph, values and gradients",
          "[emu][upsample]") {
  const int which = GENERATE(1, 2, 4, 5);
  const Shape shape = upsample_shapes[which];
  INFO("shape " << shape);
  const Shape out_shape{shape[0], shape[1], 2 * shape[2], 2 * shape[3]};
  const Tensor<float> x0 = test::random_tensor<float>(shape, 41);
  const Tensor<float> a0 = test::random_tensor<float>(out_shape, 42), b0 = test::random_tensor<float>(out_shape, 43);
  // Both ops read x (its device slot accumulates both gradients); non-uniform weights on each.
  const auto graph = [](Tape<float>& tape, const Tensor<float>& x_value, const Tensor<float>& a_value,
                        const Tensor<float>& b_value) {
    const Var<float> x = tape.variable(x_value), a = tape.constant(a_value), b = tape.constant(b_value);
    const Var<float> nearest = ops::upsample_nearest2x(x), bilinear = ops::upsample_bilinear2x(x);
    const Var<float> loss = ops::add(ops::sum(ops::mul(nearest, a)), ops::sum(ops::mul(bilinear, b)));
    tape.backward(loss);
    return std::tuple{nearest.value(), bilinear.value(), loss.value(), x.grad()};
  };
  Tape<float> on_cpu, on_device;
  const auto [near_cpu, bil_cpu, loss_cpu, gx_cpu] = graph(on_cpu, x0, a0, b0);
  const auto [near_dev, bil_dev, loss_dev, gx_dev] =
      graph(on_device, x0.to(device::cuda), a0.to(device::cuda), b0.to(device::cuda));
  CHECK(near_dev.on_device());
  CHECK(gx_dev.on_device());
  CHECK(test::device_error(near_dev, near_cpu) <= test::device_tolerance);
  CHECK(test::device_error(bil_dev, bil_cpu) <= test::device_tolerance);
  CHECK(test::device_error(loss_dev, loss_cpu) <= test::device_tolerance);
  CHECK(test::device_error(gx_dev, gx_cpu) <= test::device_tolerance);
}

TEST_CASE("upsampling on the device refuses double tensors by name", "[emu][upsample]") {
  Tape<double> tape;
  const Var<double> x = tape.variable(Tensor<double>(Shape{1, 1, 2, 2}, 1.0).to(device::cuda));
  CHECK_THROWS_WITH(ops::upsample_nearest2x(x),
                    Catch::Contains("upsample_nearest2x: the CUDA kernels are built for float tensors"));
  CHECK_THROWS_WITH(ops::upsample_bilinear2x(x),
                    Catch::Contains("upsample_bilinear2x: the CUDA kernels are built for float tensors"));
}
