// ops::concat_channels on the emulated CUDA device (support/emu_device.cpp): the copy kernels
// through their launch code against the CPU loops they mirror (forward, backward adding and
// assigning), then graphs recorded on a device tape against the same graph on the CPU.
#include <catch2/catch.hpp>

#include <tuple>
#include <vector>

#include "modelmix/ops/concat.hpp"
#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/reduce.hpp"
#include "emu/device_compare.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace kernels = modelmix::ops::cuda;

namespace {
// Odd spatial size 9 × 11 = 99 positions; inputs of 1, 2, 3 channels: blocks of 99, 198, 297
// elements per sample, so the last input spans more than one 256-thread block even at batch 1.
Shape concat_input_shape(index_t N, index_t C) { return Shape{N, C, 9, 11}; }
}  // namespace

TEST_CASE("the concat kernels on the emulated device match the CPU loops", "[emu][concat]") {
  const index_t N = GENERATE(1, 3);
  const std::vector<index_t> channels = {1, 2, 3};
  std::vector<Tensor<float>> xs, dxs;
  std::vector<const float*> host_ptrs, dev_ptrs;
  std::vector<index_t> block;
  index_t out_block = 0;
  for (std::size_t k = 0; k < channels.size(); ++k) {
    xs.push_back(test::random_tensor<float>(concat_input_shape(N, channels[k]), unsigned(10 + k)));
    block.push_back(channels[k] * 99);
    out_block += block.back();
  }
  for (const Tensor<float>& x : xs) dxs.push_back(x.to(device::cuda));
  for (std::size_t k = 0; k < xs.size(); ++k) {
    host_ptrs.push_back(xs[k].data());
    dev_ptrs.push_back(dxs[k].data());
  }
  INFO("N = " << N);

  // Forward: every element of y written (the device's NaN fill would show otherwise).
  Tensor<float> expected(Shape{N, out_block});
  ops::cpu::concat_channels(host_ptrs.data(), block.data(), xs.size(), expected.data(), N, out_block);
  Tensor<float> y = Tensor<float>::empty(Shape{N, out_block}, device::cuda);
  kernels::concat_channels(dev_ptrs.data(), block.data(), xs.size(), y.data(), N, out_block);
  CHECK(test::device_error(y, expected) == 0.0);  // copies: exact

  // Backward of each input's block, adding to a non-zero gradient and assigning into NaN.
  const Tensor<float> g = test::random_tensor<float>(Shape{N, out_block}, 20);
  const Tensor<float> dg = g.to(device::cuda);
  index_t offset = 0;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    INFO("input " << k);
    const Tensor<float> d0 = test::random_tensor<float>(xs[k].shape(), unsigned(30 + k));
    for (const bool assign : {false, true}) {
      INFO((assign ? "assign" : "add"));
      Tensor<float> want = d0;
      ops::cpu::concat_channels_backward(g.data(), want.data(), N, out_block, offset, block[k], assign);
      Tensor<float> got = assign ? Tensor<float>::empty(d0.shape(), device::cuda) : d0.to(device::cuda);
      kernels::concat_channels_backward(dg.data(), got.data(), N, out_block, offset, block[k], assign);
      CHECK(test::device_error(got, want) <= test::device_tolerance);
    }
    offset += block[k];
  }
}

TEST_CASE("concat_channels recorded on the emulated device matches the CPU graph", "[emu][concat]") {
  const index_t N = GENERATE(1, 2);
  INFO("N = " << N);
  const Tensor<float> a0 = test::random_tensor<float>(concat_input_shape(N, 2), 1);
  const Tensor<float> b0 = test::random_tensor<float>(concat_input_shape(N, 3), 2);
  const Tensor<float> c0 = test::random_tensor<float>(concat_input_shape(N, 1), 3);
  // a appears twice: its device gradient slot collects two blocks.
  const Tensor<float> w0 = test::random_tensor<float>(concat_input_shape(N, 2 + 3 + 1 + 2), 4);
  const auto graph = [](Tape<float>& tape, const Tensor<float>& a_value, const Tensor<float>& b_value,
                        const Tensor<float>& c_value, const Tensor<float>& w_value) {
    const Var<float> a = tape.variable(a_value), b = tape.variable(b_value), w = tape.constant(w_value);
    const Var<float> c = tape.constant(c_value);  // no gradient: its block is skipped
    const Var<float> y = ops::concat_channels({a, b, c, a});
    const Var<float> loss = ops::sum(ops::mul(y, w));
    tape.backward(loss);
    return std::tuple{y.value(), loss.value(), a.grad(), b.grad()};
  };
  Tape<float> on_cpu, on_device;
  const auto [y_cpu, loss_cpu, ga_cpu, gb_cpu] = graph(on_cpu, a0, b0, c0, w0);
  const auto [y_dev, loss_dev, ga_dev, gb_dev] =
      graph(on_device, a0.to(device::cuda), b0.to(device::cuda), c0.to(device::cuda), w0.to(device::cuda));
  CHECK(y_dev.on_device());
  CHECK(ga_dev.on_device());
  CHECK(test::device_error(y_dev, y_cpu) == 0.0);
  CHECK(test::device_error(loss_dev, loss_cpu) <= test::device_tolerance);
  CHECK(test::device_error(ga_dev, ga_cpu) <= test::device_tolerance);
  CHECK(test::device_error(gb_dev, gb_cpu) <= test::device_tolerance);
}

TEST_CASE("concat_channels on the device is built for float", "[emu][concat]") {
  Tape<double> tape;
  const Var<double> x = tape.variable(Tensor<double>(Shape{1, 2, 3}, 1.0).to(device::cuda));
  CHECK_THROWS_WITH(ops::concat_channels({x, x}),
                    Catch::Contains("concat_channels: the CUDA kernels are built for float tensors"));
}
