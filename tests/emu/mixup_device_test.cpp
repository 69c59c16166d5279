// Mixup with the reversed batch on the emulated CUDA device (support/emu_device.cpp): the kernels
// of ops/cuda/mixup.cuh through their launch code against the CPU loops they mirror, then the
// plain-tensor and recorded forms against the CPU — values and input gradients.
//
// Tolerance: test::device_tolerance. The kernels do the CPU loop's double arithmetic, rounded
// to float once per term, and the backward adds the two float terms of each element in the
// CPU's order; only FMA contraction of β·x + (1 − β)·x' (in double, before the rounding to
// float) could differ on a GPU, so here the emulator agrees to the bit.
#include <catch2/catch.hpp>

#include <tuple>
#include <vector>

#include "modelmix/losses/mixup.hpp"
#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/reduce.hpp"
#include "emu/device_compare.hpp"
#include "support/random.hpp"

using namespace modelmix;
namespace kernels = modelmix::ops::cuda;

namespace {
// Batch 1 (the one sample mixed with itself), odd (a middle sample) and even batches, odd
// per-sample sizes, and a batch spanning several 256-thread blocks (4·2·7·9 = 504).
const Shape mix_shapes[] = {Shape{1, 2, 7, 9}, Shape{3, 1, 7, 9}, Shape{4, 2, 7, 9}, Shape{5, 13}, Shape{3, 3, 11, 13}};

// β in (0, 1) with the ends 0 and 1 among them (a sample fully its own / fully its partner).
std::vector<double> betas_for(index_t n, unsigned seed) {
  const Tensor<double> u = test::random_tensor<double>(Shape{n}, seed, 0.0, 1.0);
  std::vector<double> betas(u.storage().begin(), u.storage().end());
  if (n > 1) betas[0] = 1.0;
  if (n > 2) betas[static_cast<std::size_t>(n - 1)] = 0.0;
  return betas;
}
}  // namespace

TEST_CASE("the mixup kernels on the emulated device match the CPU loops", "[emu][mixup]") {
  const Shape shape = mix_shapes[GENERATE(range(0, int(std::size(mix_shapes))))];
  INFO("shape " << shape);
  const index_t n = shape[0], per = shape.numel() / n;
  const std::vector<double> betas = betas_for(n, 91);
  Tensor<double> beta_tensor(Shape{n});
  for (index_t b = 0; b < n; ++b) beta_tensor[b] = betas[static_cast<std::size_t>(b)];
  const Tensor<double> dbetas = beta_tensor.to(device::cuda);

  const Tensor<float> x = test::random_tensor<float>(shape, 92);
  Tensor<float> want(shape);
  ops::cpu::mix_with_reversed(x.data(), want.data(), betas.data(), n, per);
  Tensor<float> got = Tensor<float>::empty(shape, device::cuda);
  kernels::mix_with_reversed(x.to(device::cuda).data(), got.data(), dbetas.data(), n, per);
  CHECK(test::device_error(got, want) <= test::device_tolerance);

  // Backward into a gradient holding values already.
  const Tensor<float> g = test::random_tensor<float>(shape, 93), d0 = test::random_tensor<float>(shape, 94);
  Tensor<float> want_d = d0;
  ops::cpu::mix_with_reversed_backward(g.data(), want_d.data(), betas.data(), n, per);
  Tensor<float> got_d = d0.to(device::cuda);
  kernels::mix_with_reversed_backward(g.to(device::cuda).data(), got_d.data(), dbetas.data(), n, per);
  CHECK(test::device_error(got_d, want_d) <= test::device_tolerance);
  // The CPU's two float additions per element, in its order: the same bits.
  CHECK(got_d.to_host().storage() == want_d.storage());
}

TEST_CASE("mix_with_reversed on the emulated device matches the CPU, plain and recorded", "[emu][mixup]") {
  const Shape shape = mix_shapes[GENERATE(0, 1, 2, 4)];
  INFO("shape " << shape);
  const index_t n = shape[0];
  const std::vector<double> betas = betas_for(n, 95);

  const Tensor<float> image = test::random_tensor<float>(shape, 96);
  const Tensor<float> mixed_dev = losses::mix_with_reversed(image.to(device::cuda), betas);
  CHECK(mixed_dev.on_device());
  CHECK(test::device_error(mixed_dev, losses::mix_with_reversed(image, betas)) <= test::device_tolerance);

  const Tensor<float> x0 = test::random_tensor<float>(shape, 97), w0 = test::random_tensor<float>(shape, 98);
  // x reaches the loss through the mix and directly (the device slot adds both); the mix is
  // applied twice, so the backward also reads the β copy after a second forward.
  const auto graph = [&betas](Tape<float>& tape, const Tensor<float>& x_value, const Tensor<float>& w_value) {
    const Var<float> x = tape.variable(x_value), w = tape.constant(w_value);
    const Var<float> q = losses::mix_with_reversed(x, betas);
    const Var<float> qq = losses::mix_with_reversed(ops::mul(q, w), betas);
    const Var<float> loss = ops::add(ops::sum(ops::mul(qq, w)), ops::mean(ops::mul(x, w)));
    tape.backward(loss);
    return std::tuple{q.value(), qq.value(), loss.value(), x.grad()};
  };
  Tape<float> on_cpu, on_device;
  const auto [q_cpu, qq_cpu, loss_cpu, gx_cpu] = graph(on_cpu, x0, w0);
  const auto [q_dev, qq_dev, loss_dev, gx_dev] = graph(on_device, x0.to(device::cuda), w0.to(device::cuda));
  CHECK(q_dev.on_device());
  CHECK(gx_dev.on_device());
  CHECK(test::device_error(q_dev, q_cpu) <= test::device_tolerance);
  CHECK(test::device_error(qq_dev, qq_cpu) <= test::device_tolerance);
  CHECK(test::device_error(loss_dev, loss_cpu) <= test::device_tolerance);
  CHECK(test::device_error(gx_dev, gx_cpu) <= test::device_tolerance);
}

TEST_CASE("mix_with_reversed on the device is built for float and checks its coefficients", "[emu][mixup]") {
  const std::vector<double> betas{0.3, 0.6};
  Tape<double> tape;
  const Var<double> x = tape.variable(Tensor<double>(Shape{2, 3}, 1.0).to(device::cuda));
  CHECK_THROWS_WITH(losses::mix_with_reversed(x, betas),
                    Catch::Contains("mix_with_reversed: the CUDA kernels are built for float tensors"));
  const Tensor<float> three = Tensor<float>(Shape{3, 2}, 1.f).to(device::cuda);
  CHECK_THROWS_WITH(losses::mix_with_reversed(three, betas),
                    Catch::Contains("mix_with_reversed: 2 mixing coefficients for a batch of 3"));
}
