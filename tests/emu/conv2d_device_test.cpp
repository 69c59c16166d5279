// ops::conv2d on the emulated device: the fused mixed convolution's whole device path — the
// dispatch, the CUDA chain, the launch code of src/cuda/mixed_conv2d_launch.inl, the device
// scratch for the coefficient gradients and their add-back to the host coefficients — against
// the same graph on the CPU, gradients into both parents, their biases and their coefficients.
//
// Tolerance: the device sums the C·R·S products of each output in its tile order, the CPU in
// its GEMM's; fp32 sums of ≤ 72 products of values in [−1, 1] here, so 1e-5 relative to
// max(1, |value|). The coefficient gradients are sums over the whole filter and the batch
// (K·C·R·S dot products of sums over N·P·Q), so 1e-4.
#include <catch2/catch.hpp>

#include <tuple>
#include <vector>

#include "modelmix/autograd/parameter.hpp"
#include "modelmix/ops/conv2d.hpp"
#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/reduce.hpp"
#include "emu/device_compare.hpp"
#include "support/random.hpp"

using namespace modelmix;

namespace {

struct conv_case {
  const char* name;
  Shape x, w;
  ops::conv2d_options options;
  bool bias;
};

// The U-Net's 3×3 pad 1 (ragged tiles, batch 1 and 3), a stride-2 odd-sized map without bias,
// and the 1×1 head.
const conv_case& conv_case_at(int which) {
  static const std::vector<conv_case> all = {
      {"3x3 pad 1, batch 1", {1, 3, 7, 9}, {5, 3, 3, 3}, {.padding = 1}, true},
      {"3x3 pad 1, batch 3", {3, 8, 6, 5}, {4, 8, 3, 3}, {.padding = 1}, true},
      {"3x3 stride 2 pad 1, no bias", {2, 3, 9, 7}, {6, 3, 3, 3}, {.stride = 2, .padding = 1}, false},
      {"1x1 head", {2, 6, 5, 5}, {4, 6, 1, 1}, {}, true},
  };
  return all.at(std::size_t(which));
}

}  // namespace

TEST_CASE("a mixed conv2d recorded on the emulated device matches the CPU graph", "[emu][conv]") {
  const conv_case& cc = conv_case_at(GENERATE(0, 1, 2, 3));
  const bool mixed = GENERATE(false, true);  // one plain parent (c = 1) or two mixed ones
  INFO(cc.name << (mixed ? ", two parents" : ", one parent"));
  const index_t K = cc.w[0];
  const Tensor<float> x0 = test::random_tensor<float>(cc.x, 1);
  const Tensor<float> wa = test::random_tensor<float>(cc.w, 2), wb = test::random_tensor<float>(cc.w, 3);
  const Tensor<float> ba = test::random_tensor<float>(Shape{K}, 4), bb = test::random_tensor<float>(Shape{K}, 5);

  // The coefficients stay on the host on either device (the kernels take them as values).
  const auto graph = [&](device where) {
    Parameter<float> pwa(wa.to(where)), pwb(wb.to(where)), pba(ba.to(where)), pbb(bb.to(where));
    Parameter<float> ca(Tensor<float>(Shape{1}, mixed ? 0.3f : 1.f)), cb(Tensor<float>(Shape{1}, 0.7f));
    Tape<float> tape;
    const Var<float> x = tape.variable(x0.to(where));
    std::vector<mixing::operand<float>> parents = {
        {tape.parameter(pwa), cc.bias ? tape.parameter(pba) : Var<float>{}, tape.parameter(ca)}};
    if (mixed) parents.push_back({tape.parameter(pwb), cc.bias ? tape.parameter(pbb) : Var<float>{}, tape.parameter(cb)});
    const Var<float> y = ops::conv2d(x, std::span<const mixing::operand<float>>(parents), cc.options);
    const Tensor<float> weights = test::random_tensor<float>(y.shape(), 6).to(where);
    tape.backward(ops::sum(ops::mul(y, tape.constant(weights))));
    return std::tuple{y.value(), x.grad(), pwa.grad, pwb.grad, pba.grad, pbb.grad, ca.grad, cb.grad};
  };
  const auto [y_cpu, gx_cpu, gwa_cpu, gwb_cpu, gba_cpu, gbb_cpu, gca_cpu, gcb_cpu] = graph(device::cpu);
  const auto [y_dev, gx_dev, gwa_dev, gwb_dev, gba_dev, gbb_dev, gca_dev, gcb_dev] = graph(device::cuda);
  constexpr double tol = 1e-5, coeff_tol = 1e-4;
  CHECK(y_dev.on_device());
  CHECK(test::device_error(y_dev, y_cpu) <= tol);
  CHECK(test::device_error(gx_dev, gx_cpu) <= tol);
  CHECK(test::device_error(gwa_dev, gwa_cpu) <= tol);
  if (cc.bias) CHECK(test::device_error(gba_dev, gba_cpu) <= tol);
  if (mixed) {
    CHECK(test::device_error(gwb_dev, gwb_cpu) <= tol);
    if (cc.bias) CHECK(test::device_error(gbb_dev, gbb_cpu) <= tol);
    CHECK_FALSE(gca_dev.on_device());
    CHECK(test::device_error(gca_dev, gca_cpu) <= coeff_tol);
    CHECK(test::device_error(gcb_dev, gcb_cpu) <= coeff_tol);
  }
}

TEST_CASE("conv2d on the emulated device takes more parents than the fused kernels, in groups", "[emu][conv]") {
  // 9 parents > max_fused_terms: the chain materializes W in two chunks for the forward and
  // runs the backward in groups of 8 — still the fused kernels, no cuDNN.
  constexpr int terms = 9;
  const Tensor<float> x0 = test::random_tensor<float>(Shape{1, 2, 5, 5}, 1);
  const auto graph = [&](device where) {
    std::vector<Parameter<float>> w, c;
    for (int i = 0; i < terms; ++i) {
      w.emplace_back(test::random_tensor<float>(Shape{3, 2, 3, 3}, unsigned(10 + i)).to(where));
      c.emplace_back(Tensor<float>(Shape{1}, 0.1f * float(i + 1)));
    }
    Tape<float> tape;
    const Var<float> x = tape.variable(x0.to(where));
    std::vector<mixing::operand<float>> parents;
    for (int i = 0; i < terms; ++i) parents.push_back({tape.parameter(w[i]), {}, tape.parameter(c[i])});
    const Var<float> y = ops::conv2d(x, std::span<const mixing::operand<float>>(parents), {.padding = 1});
    tape.backward(ops::sum(ops::mul(y, tape.constant(test::random_tensor<float>(y.shape(), 2).to(where)))));
    std::vector<Tensor<float>> grads{y.value(), x.grad()};
    for (int i = 0; i < terms; ++i) grads.push_back(w[i].grad);
    for (int i = 0; i < terms; ++i) grads.push_back(c[i].grad);
    return grads;
  };
  const std::vector<Tensor<float>> want = graph(device::cpu), got = graph(device::cuda);
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO((i == 0 ? "y" : i == 1 ? "x.grad" : i < 2 + terms ? "weight grad" : "coefficient grad") << " " << i);
    CHECK(test::device_error(got[i], want[i]) <= (i < 2 + terms ? 1e-5 : 1e-4));
  }
}
