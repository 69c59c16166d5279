// Rotation and flips on the emulated CUDA device (support/emu_device.cpp): the kernels of
// ops/cuda/geometry.cuh through their launch code against the CPU loops they mirror, then the
// ops recorded on a device tape against the same graph on the CPU — values and input gradients.
//
// Tolerance: none needed. Both passes are copies (the forward) or float additions in the CPU's
// order (the backward gathers), and the index map is the CPU's own function (explicit fma, so
// no compiler contracts it differently): the results are compared bit for bit. The losses of
// the graphs are sums, compared with test::device_tolerance like every other op's.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <tuple>
#include <utility>

#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/flip.hpp"
#include "modelmix/ops/reduce.hpp"
#include "modelmix/ops/rotate.hpp"
#include "emu/device_compare.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace kernels = modelmix::ops::cuda;

namespace {
// Non-square odd planes both ways round, batch 1 and 3, and inputs spanning several 256-thread
// blocks (3·2·11·13 = 858, 2·16·17 = 544), a single row and a single column.
const Shape rotate_shapes[] = {Shape{1, 1, 7, 9},   Shape{3, 1, 7, 9},   Shape{1, 2, 9, 7}, Shape{3, 2, 11, 13},
                               Shape{2, 16, 17},    Shape{1, 1, 1, 6},   Shape{1, 1, 5, 1}};
// 0 and the right angles (exact permutations, on a non-square plane some pixels leave), then
// angles where the nearest map sends several outputs to one input and misses others.
const double rotate_angles[] = {0.0, 90.0, 180.0, -90.0, 30.0, 45.0, 37.5, -123.4, 200.3};

bool same_bits(const Tensor<float>& a, const Tensor<float>& b) {
  return a.shape() == b.shape() && a.to_host().storage() == b.to_host().storage();
}
}  // namespace

TEST_CASE("the rotation kernels on the emulated device match the CPU loops", "[emu][rotate]") {
  const Shape shape = rotate_shapes[GENERATE(range(0, int(std::size(rotate_shapes))))];
  const double degrees = GENERATE(from_range(std::begin(rotate_angles), std::end(rotate_angles)));
  const float fill = GENERATE(0.f, -2.5f);
  INFO("shape " << shape << ", " << degrees << "°, fill " << fill);
  const index_t H = shape[shape.rank() - 2], W = shape[shape.rank() - 1], HW = H * W, planes = shape.numel() / HW;
  const ops::rotation r = ops::rotation_of(degrees);
  const std::vector<index_t> map = ops::rotation_source_map(H, W, r);

  const Tensor<float> x = test::random_tensor<float>(shape, 51);
  Tensor<float> y_cpu(shape);
  ops::cpu::gather_planes(x.data(), y_cpu.data(), map.data(), planes, HW, fill);
  Tensor<float> y_dev = Tensor<float>::empty(shape, device::cuda);
  kernels::rotate_planes(x.to(device::cuda).data(), y_dev.data(), planes, H, W, r.c, r.s, fill);
  CHECK(same_bits(y_dev, y_cpu));

  // Backward into a gradient holding values already: the CPU scatters g in q order.
  const Tensor<float> g = test::random_tensor<float>(shape, 52), d0 = test::random_tensor<float>(shape, 53);
  Tensor<float> want = d0;
  ops::cpu::gather_planes_backward(g.data(), want.data(), map.data(), planes, HW);
  Tensor<float> got = d0.to(device::cuda);
  kernels::rotate_planes_backward(g.to(device::cuda).data(), got.data(), planes, H, W, r.c, r.s);
  CHECK(same_bits(got, want));
}

TEST_CASE("the rotation test angles exercise inputs read twice and inputs never read", "[emu][rotate]") {
  // The backward's order only matters where one input collects several outputs: make sure the
  // cases above include such inputs (and unread ones, which keep their gradient). On odd
  // planes 37.5° happens to read no input twice (on 16×17 it does).
  const auto [H, W] = GENERATE(std::pair<index_t, index_t>{7, 9}, std::pair<index_t, index_t>{11, 13});
  for (const double degrees : {30.0, 45.0, -123.4, 200.3}) {
    INFO(H << "×" << W << ", " << degrees << "°");
    const std::vector<index_t> map = ops::rotation_source_map(H, W, degrees);
    std::map<index_t, int> reads;
    for (const index_t m : map)
      if (m >= 0) ++reads[m];
    int twice = 0;
    for (const auto& [source, count] : reads) twice += count >= 2;
    CHECK(twice > 0);
    CHECK(reads.size() < map.size());
  }
}

TEST_CASE("rotate_planes on the emulated device matches the CPU", "[emu][rotate]") {
  const Shape shape = rotate_shapes[GENERATE(0, 3, 4)];
  const double degrees = GENERATE(0.0, 90.0, 37.5);
  INFO("shape " << shape << ", " << degrees << "°");
  const Tensor<float> x = test::random_tensor<float>(shape, 54);
  const Tensor<float> y_dev = ops::rotate_planes(x.to(device::cuda), degrees, 1.25f);
  CHECK(y_dev.on_device());
  CHECK(same_bits(y_dev, ops::rotate_planes(x, degrees, 1.25f)));
}

TEST_CASE("rotate and its inverse recorded on the emulated device match the CPU graph", "[emu][rotate]") {
  const Shape shape = rotate_shapes[GENERATE(0, 1, 3)];  // batch 1 and 3, 7×9 and 11×13
  const float degrees = GENERATE(0.f, 90.f, 30.f, -123.4f);
  const float fill = GENERATE(0.f, 0.75f);
  INFO("shape " << shape << ", " << degrees << "°, fill " << fill);
  const Tensor<float> x0 = test::random_tensor<float>(shape, 61), a0 = test::random_tensor<float>(shape, 62),
                      b0 = test::random_tensor<float>(shape, 63);
  // rot⁻¹(f(rot x)) as ModelMix computes it, with x also reaching the loss through rot x alone.
  const auto graph = [degrees, fill](Tape<float>& tape, const Tensor<float>& x_value, const Tensor<float>& a_value,
                                     const Tensor<float>& b_value) {
    const Var<float> x = tape.variable(x_value), a = tape.constant(a_value), b = tape.constant(b_value);
    const Var<float> rotated = ops::rotate(x, degrees, fill);
    const Var<float> back = ops::rotate(ops::mul(rotated, a), -degrees, fill);
    const Var<float> loss = ops::add(ops::sum(ops::mul(back, b)), ops::mean(ops::mul(rotated, b)));
    tape.backward(loss);
    return std::tuple{rotated.value(), back.value(), loss.value(), x.grad()};
  };
  Tape<float> on_cpu, on_device;
  const auto [rot_cpu, back_cpu, loss_cpu, gx_cpu] = graph(on_cpu, x0, a0, b0);
  const auto [rot_dev, back_dev, loss_dev, gx_dev] =
      graph(on_device, x0.to(device::cuda), a0.to(device::cuda), b0.to(device::cuda));
  CHECK(rot_dev.on_device());
  CHECK(gx_dev.on_device());
  CHECK(same_bits(rot_dev, rot_cpu));
  CHECK(same_bits(back_dev, back_cpu));
  CHECK(test::device_error(loss_dev, loss_cpu) <= test::device_tolerance);
  // The gradient adds the elementwise ops' terms and the two rotations' gathers: the same
  // float operations in the same order on either device.
  CHECK(same_bits(gx_dev, gx_cpu));
}

TEST_CASE("the flip kernel on the emulated device matches the CPU loop", "[emu][flip]") {
  // [outer, L, inner] views: the last axis (inner = 1), a middle one, the first (outer = 1),
  // odd lengths, one of length 1, and one spanning several blocks.
  const std::tuple<index_t, index_t, index_t> views[] = {{21, 9, 1}, {3, 7, 9}, {1, 5, 63}, {4, 1, 6}, {6, 11, 13}};
  const auto [outer, L, inner] = views[GENERATE(range(0, 5))];
  INFO("view [" << outer << ", " << L << ", " << inner << "]");
  const Shape shape{outer, L, inner};
  const Tensor<float> x = test::random_tensor<float>(shape, 71), d0 = test::random_tensor<float>(shape, 72);
  const Tensor<float> dx = x.to(device::cuda);
  for (const bool accumulate : {false, true}) {
    INFO((accumulate ? "accumulate" : "overwrite"));
    Tensor<float> want = d0;
    ops::cpu::flip_into(x.data(), want.data(), outer, L, inner, accumulate);
    Tensor<float> got = accumulate ? d0.to(device::cuda) : Tensor<float>::empty(shape, device::cuda);
    kernels::flip_into(dx.data(), got.data(), outer, L, inner, accumulate);
    CHECK(same_bits(got, want));
  }
}

TEST_CASE("flip recorded on the emulated device matches the CPU graph", "[emu][flip]") {
  const Shape shape = GENERATE(Shape{1, 2, 7, 9}, Shape{3, 1, 5, 6});
  const int axis = GENERATE(-1, 2, 1, 0);
  INFO("shape " << shape << ", axis " << axis);
  const Tensor<float> x0 = test::random_tensor<float>(shape, 81), w0 = test::random_tensor<float>(shape, 82);
  const auto graph = [axis](Tape<float>& tape, const Tensor<float>& x_value, const Tensor<float>& w_value) {
    const Var<float> x = tape.variable(x_value), w = tape.constant(w_value);
    const Var<float> y = ops::flip(x, axis);
    const Var<float> loss = ops::add(ops::sum(ops::mul(y, w)), ops::mean(ops::mul(x, w)));
    tape.backward(loss);
    return std::tuple{y.value(), loss.value(), x.grad()};
  };
  Tape<float> on_cpu, on_device;
  const auto [y_cpu, loss_cpu, gx_cpu] = graph(on_cpu, x0, w0);
  const auto [y_dev, loss_dev, gx_dev] = graph(on_device, x0.to(device::cuda), w0.to(device::cuda));
  CHECK(y_dev.on_device());
  CHECK(gx_dev.on_device());
  CHECK(same_bits(y_dev, y_cpu));
  CHECK(test::device_error(loss_dev, loss_cpu) <= test::device_tolerance);
  CHECK(same_bits(gx_dev, gx_cpu));
}

TEST_CASE("rotation and flips on the device are built for float", "[emu][rotate][flip]") {
  Tape<double> tape;
  const Tensor<double> value = Tensor<double>(Shape{1, 1, 3, 4}, 1.0).to(device::cuda);
  const Var<double> x = tape.variable(value);
  CHECK_THROWS_WITH(ops::rotate(x, 30.0), Catch::Contains("rotate: the CUDA kernels are built for float tensors"));
  CHECK_THROWS_WITH(ops::rotate_planes(value, 30.0, 0.0),
                    Catch::Contains("rotate_planes: the CUDA kernels are built for float tensors"));
  CHECK_THROWS_WITH(ops::flip(x, -1), Catch::Contains("flip: the CUDA kernels are built for float tensors"));
}
