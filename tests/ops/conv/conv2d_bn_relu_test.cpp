// Inference-time conv → BN → ReLU as one convolution (ops/conv2d_bn_relu.hpp) against the three
// ops one by one, and the layer-level choice of when a network may take it (layers/conv_bn_relu.hpp).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "modelmix/layers/layers.hpp"
#include "modelmix/models/unet.hpp"
#include "modelmix/ops/activation.hpp"
#include "modelmix/ops/batch_norm.hpp"
#include "modelmix/ops/conv2d_bn_relu.hpp"
#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/reduce.hpp"
#include "support/random.hpp"

using namespace modelmix;
using test::max_relative_error;
using test::random_tensor;

TEST_CASE("conv2d_bn_relu by hand", "[ops][conv][fold]") {
  // One channel, 1×1 filter 3, bias 1; BN γ 2, β 0.5, μ 1, σ² 3, ε 1 → s = 2/√4 = 1.
  // x = [−1, 2]: conv → [−2, 7], BN → [−2.5, 6.5], ReLU → [0, 6.5].
  Tape<double> tape;
  const Tensor<double> w(Shape{1, 1, 1, 1}, 3.0), b(Shape{1}, 1.0), gamma(Shape{1}, 2.0), beta(Shape{1}, 0.5),
      mean(Shape{1}, 1.0), var(Shape{1}, 3.0);
  const Var<double> x = tape.constant(Tensor<double>(Shape{1, 1, 1, 2}, std::vector<double>{-1, 2}));
  const Tensor<double>& y = ops::conv2d_bn_relu(x, w, &b, {gamma, beta, mean, var, 1.0}).value();
  CHECK(y[0] == 0.0);
  CHECK(y[1] == Approx(6.5).epsilon(1e-15));
  const auto [wf, bf] = ops::fold_batch_norm(w, &b, {gamma, beta, mean, var, 1.0});
  CHECK(wf[0] == Approx(3.0));
  CHECK(bf[0] == Approx(0.5));  // s·(b − μ) + β = 1·0 + 0.5
}

TEST_CASE("conv2d_bn_relu equals conv2d → batch_norm2d (eval) → relu", "[ops][conv][fold]") {
  struct problem {
    Shape x, w;
    index_t stride, padding;
    bool bias;
  };
  // 3×3 rows of 20 and 40 pixels take the direct kernel (its tile epilogue), 6×6 and 1×1 and
  // strided ones the GEMM path (its band epilogue).
  const std::vector<problem> problems = {
      {{2, 3, 20, 20}, {5, 3, 3, 3}, 1, 1, true},   {{1, 16, 40, 40}, {24, 16, 3, 3}, 1, 1, false},
      {{2, 4, 6, 6}, {7, 4, 3, 3}, 1, 1, true},     {{2, 8, 10, 10}, {3, 8, 1, 1}, 1, 0, true},
      {{1, 3, 11, 11}, {4, 3, 3, 3}, 2, 1, true},
  };
  unsigned seed = 1;
  for (const problem& pb : problems) {
    INFO("x " << pb.x << " w " << pb.w << " stride " << pb.stride);
    const index_t K = pb.w[0];
    const Tensor<float> x = random_tensor<float>(pb.x, seed++), w = random_tensor<float>(pb.w, seed++, -0.5f, 0.5f);
    const Tensor<float> b = random_tensor<float>(Shape{K}, seed++), gamma = random_tensor<float>(Shape{K}, seed++, 0.5f, 2.f);
    const Tensor<float> beta = random_tensor<float>(Shape{K}, seed++);
    Tensor<float> mean = random_tensor<float>(Shape{K}, seed++), var = random_tensor<float>(Shape{K}, seed++, 0.2f, 3.f);
    Tape<float> tape;
    const Var<float> xv = tape.constant(x);
    const ops::conv2d_options o{pb.stride, pb.padding};
    const Var<float> conv = ops::conv2d(xv, tape.constant(w), pb.bias ? tape.constant(b) : Var<float>{}, o);
    const Tensor<float>& expected =
        ops::relu(ops::batch_norm2d(conv, tape.constant(gamma), tape.constant(beta), {mean, var}, false)).value();
    const Tensor<float>& y = ops::conv2d_bn_relu(xv, w, pb.bias ? &b : nullptr, {gamma, beta, mean, var}, o).value();
    REQUIRE(y.shape() == expected.shape());
    CHECK(max_relative_error(y, expected) <= 2e-5);
    index_t zeros = 0;
    for (index_t i = 0; i < y.numel(); ++i) {
      CHECK(y[i] >= 0.0f);
      if (expected[i] == 0.0f) zeros += y[i] == 0.0f;  // the ReLU ran: rectified values are exact zeros
    }
    CHECK(zeros > y.numel() / 10);
  }
}

TEST_CASE("conv2d_bn_relu refuses what it cannot do", "[ops][conv][fold][errors]") {
  Tape<float> tape;
  const Tensor<float> w(Shape{2, 1, 3, 3}, 0.1f), gamma(Shape{2}, 1.f), beta(Shape{2}), mean(Shape{2}),
      var(Shape{2}, 1.f), short_var(Shape{3}, 1.f), negative_var(Shape{2}, -1.f);
  Parameter<float> needs_grad(Tensor<float>(Shape{1, 1, 4, 4}));
  CHECK_THROWS_WITH(ops::conv2d_bn_relu(tape.parameter(needs_grad), w, nullptr, {gamma, beta, mean, var}),
                    Catch::Contains("inference only"));
  const Var<float> x = tape.constant(Tensor<float>(Shape{1, 1, 4, 4}));
  CHECK_THROWS_WITH(ops::conv2d_bn_relu(x, w, nullptr, {gamma, beta, mean, short_var}),
                    Catch::Contains("running_var [3]"));
  CHECK_THROWS_WITH(ops::conv2d_bn_relu(x, w, nullptr, {gamma, beta, mean, negative_var}),
                    Catch::Contains("running_var[0] is negative"));
}

TEST_CASE("a U-Net's evaluation folds its BatchNorms and predicts what the unfolded one does", "[models][fold]") {
  models::UNet<float> net({.in_channels = 1, .classes = 4, .width = 16, .depth = 3});
  // Running statistics away from their (0, 1) initial values, as after training.
  unsigned seed = 100;
  layers::for_each_buffer(net, [&](const std::string& path, Tensor<float>& t) {
    const bool var = path.ends_with("running_var");
    t = random_tensor<float>(t.shape(), seed++, var ? 0.3f : -0.2f, var ? 2.f : 0.2f);
  });
  const Tensor<float> image = random_tensor<float>(Shape{2, 1, 32, 32}, 7);
  autograd::no_grad_guard no_grad;
  Tape<float> folded_tape, plain_tape;
  const Var<float> folded = net.forward(folded_tape, folded_tape.constant(image), {});
  const Var<float> plain = net.forward(plain_tape, plain_tape.constant(image), {.fuse_conv_bn_relu = false});
  CHECK(folded_tape.size() < plain_tape.size());  // the fold was taken: fewer nodes
  CHECK(max_relative_error(folded.value(), plain.value()) <= 1e-5);
}

TEST_CASE("the fold is taken only in evaluation without gradients and without mixing", "[layers][fold]") {
  layers::Conv2d<float> conv({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .padding = 1}, 1);
  layers::Conv2d<float> other({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .padding = 1}, 2);
  layers::BatchNorm2d<float> bn({.channels = 3});
  Tape<float> tape;
  const Var<float> x = tape.constant(Tensor<float>(Shape{1, 2, 4, 4}));
  CHECK_FALSE(layers::can_fold_batch_norm(conv, bn, x, {}));  // gradient recording is on
  autograd::no_grad_guard no_grad;
  CHECK(layers::can_fold_batch_norm(conv, bn, x, {}));
  CHECK_FALSE(layers::can_fold_batch_norm(conv, bn, x, {.training = true}));
  CHECK_FALSE(layers::can_fold_batch_norm(conv, bn, x, {.fuse_conv_bn_relu = false}));
  layers::mix_bindings<float> bindings;
  const auto view = layers::mix_bindings<float>::make(conv.mix(0.5, other));
  bindings.activate(&conv, *view, "conv");
  CHECK_FALSE(layers::can_fold_batch_norm(conv, bn, x, {.mixing = &bindings}));
}

TEST_CASE("a U-Net's training step with fused units is the unfused one, bit for bit", "[models][fused]") {
  const models::unet_options options{.in_channels = 1, .classes = 4, .width = 16, .depth = 3};
  models::UNet<float> fused(options), plain(options);
  const Tensor<float> image = random_tensor<float>(Shape{2, 1, 32, 32}, 8);
  const Tensor<float> weights = random_tensor<float>(Shape{2, 4, 32, 32}, 9);
  for (auto* net : {&fused, &plain}) {
    Tape<float> tape;
    const Var<float> p = net->forward(tape, tape.constant(image),
                                      {.training = true, .seed = 3, .fuse_conv_bn_relu = net == &fused});
    tape.backward(ops::sum(ops::mul(p, tape.constant(weights))));
  }
  const auto a = layers::named_parameters(fused), b = layers::named_parameters(plain);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO(a[i].first);
    CHECK(a[i].second->grad.storage() == b[i].second->grad.storage());
  }
  std::vector<Tensor<float>> stats;
  layers::for_each_buffer(fused, [&](const std::string&, Tensor<float>& t) { stats.push_back(t); });
  std::size_t k = 0;
  layers::for_each_buffer(plain, [&](const std::string& path, Tensor<float>& t) {
    INFO(path);
    CHECK(stats[k++].storage() == t.storage());
  });
}
