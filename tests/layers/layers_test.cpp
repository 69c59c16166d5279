// Each layer against the op it wraps or a hand computation; names and order of parameters;
// finite-difference gradients for every layer.
#include <catch2/catch.hpp>

#include "layer_test_support.hpp"
#include "modelmix/ops/ops.hpp"

using namespace modelmix;
using namespace modelmix::layers;
using modelmix::test::bitwise_equal;
using modelmix::test::forward_value;
using modelmix::test::max_abs_difference;
using modelmix::test::random_tensor;

static_assert(Layer<Conv2d<float>> && Layer<Conv2d<double>>);
static_assert(Mixable<Conv2d<float>> && Mixable<Linear<double>> && Mixable<Bias<float>> && Mixable<BatchNorm2d<double>>);
static_assert(Layer<ReLU<float>> && Layer<Dropout<float>> && Layer<MaxPool2d<float>> && Layer<Upsample<float>>);
static_assert(!Mixable<ReLU<float>> && !Mixable<Dropout<double>> && !Mixable<MaxPool2d<float>>);
static_assert(Layer<MixedLayer<Conv2d<double>>> && Layer<MixedLayer<BatchNorm2d<float>>>);
static_assert(Layer<Sequential<float, Conv2d<float>, ReLU<float>>>);
static_assert(Network<Sequential<float, Conv2d<float>, ReLU<float>>> && !Network<Conv2d<float>>);

namespace {

// A user-defined network: only visit_layers and forward, no visit_parameters of its own.
template <class T>
struct TwoStage {
  using value_type = T;
  Sequential<T, Conv2d<T>, BatchNorm2d<T>, ReLU<T>> encoder;
  Linear<T> head;

  explicit TwoStage(init_rng&& rng)
      : encoder{Conv2d<T>(conv2d_options{.in_channels = 1, .out_channels = 4, .padding = 1}, rng),
                BatchNorm2d<T>({4}), ReLU<T>{}},
        head(linear_options{.in_features = 4, .out_features = 2}, rng) {}

  Var<T> forward(Tape<T>& tape, const Var<T>& x, const forward_context<T>& ctx) {
    return head.forward(tape, encoder.forward(tape, x, ctx), ctx);
  }
  template <class F>
  void visit_layers(const std::string& prefix, F&& f) {
    f(join_path(prefix, "encoder"), encoder);
    f(join_path(prefix, "head"), head);
  }
};
static_assert(Network<TwoStage<float>>);

template <class L>
void require_gradients(L& layer, const Tensor<double>& x, const forward_context<double>& ctx = {}) {
  const auto r = check_layer_gradients(layer, x, ctx);
  INFO(r.report);
  CHECK(r.ok);
  CHECK(r.checked > 0);
}

}  // namespace

TEST_CASE("Conv2d forward is ops::conv2d on its parameters; init follows PyTorch", "[layers][conv2d]") {
  for (auto [stride, padding, bias] : {std::tuple{1, 1, true}, {2, 0, false}, {2, 1, true}}) {
    const conv2d_options o{.in_channels = 3, .out_channels = 5, .kernel_size = 3, .stride = stride,
                           .padding = padding, .bias = bias};
    Conv2d<float> conv(o, 42);
    CHECK(conv.weight.shape() == Shape{5, 3, 3, 3});
    CHECK(conv.has_bias() == bias);
    CHECK(conv.bias.value.empty() == !bias);
    // kaiming_uniform(a=√5) = U(±1/√fan_in), fan_in = 27
    const double bound = 1 / std::sqrt(27.0);
    for (float w : conv.weight.value.span()) CHECK(std::abs(w) <= bound);

    const Tensor<float> x = random_tensor<float>(Shape{2, 3, 7, 9}, 3);
    Tape<float> tape;
    const Var<float> expected =
        ops::conv2d(tape.constant(x), tape.constant(conv.weight.value),
                    bias ? tape.constant(conv.bias.value) : Var<float>{}, {stride, padding, ops::conv2d_path::reference});
    const Tensor<float> y = forward_value(conv, x);
    CHECK(y.shape() == expected.shape());
    CHECK(max_abs_difference(y, expected.value()) < 1e-5);
  }
  // Seeded: same seed, same weights; the rng form draws weight then bias, as PyTorch does.
  Conv2d<float> a(conv2d_options{.in_channels = 2, .out_channels = 2}, 7), b(conv2d_options{.in_channels = 2, .out_channels = 2}, 7),
      c(conv2d_options{.in_channels = 2, .out_channels = 2}, 8);
  CHECK(bitwise_equal(a.weight.value, b.weight.value));
  CHECK_FALSE(bitwise_equal(a.weight.value, c.weight.value));
}

TEST_CASE("Linear is a 1x1 convolution: y = W x + b per pixel", "[layers][linear]") {
  Linear<double> fc(linear_options{.in_features = 3, .out_features = 2}, 5);
  CHECK(fc.weight.shape() == Shape{2, 3, 1, 1});
  CHECK(fc.bias.shape() == Shape{2});
  const Tensor<double> x = random_tensor<double>(Shape{2, 3, 2, 3}, 9);
  const Tensor<double> y = forward_value(fc, x);
  REQUIRE(y.shape() == Shape{2, 2, 2, 3});
  double worst = 0;
  for (index_t n = 0; n < 2; ++n)
    for (index_t k = 0; k < 2; ++k)
      for (index_t h = 0; h < 2; ++h)
        for (index_t w = 0; w < 3; ++w) {
          double v = fc.bias.value[k];
          for (index_t c = 0; c < 3; ++c) v += fc.weight.value(k, c, 0, 0) * x(n, c, h, w);
          worst = std::max(worst, std::abs(v - y(n, k, h, w)));
        }
  CHECK(worst < 1e-12);
}

TEST_CASE("Bias adds one value per channel", "[layers][bias]") {
  Bias<double> b({3});
  CHECK(test::sum_abs(b.bias.value) == 0);  // zero-initialised
  b.bias.value = Tensor<double>(Shape{3}, std::vector<double>{1, -2, 0.5});
  const Tensor<double> x = random_tensor<double>(Shape{2, 3, 2, 2}, 1);
  const Tensor<double> y = forward_value(b, x);
  for (index_t n = 0; n < 2; ++n)
    for (index_t c = 0; c < 3; ++c)
      for (index_t i = 0; i < 2; ++i)
        for (index_t j = 0; j < 2; ++j) CHECK(y(n, c, i, j) == x(n, c, i, j) + b.bias.value[c]);
  Tape<double> tape;
  CHECK_THROWS_WITH(b.forward(tape, tape.constant(Tensor<double>(Shape{1, 4, 2, 2})), {}),
                    Catch::Contains("input [1, 4, 2, 2] has 4 channels but the bias has shape [3]"));
}

TEST_CASE("BatchNorm2d: batch statistics in training, running statistics in evaluation", "[layers][batchnorm]") {
  BatchNorm2d<double> bn({.channels = 3, .eps = 1e-5, .momentum = 0.2});
  test::randomize(bn.weight, 1);
  test::randomize(bn.bias, 2);
  const Tensor<double> x = random_tensor<double>(Shape{2, 3, 3, 4}, 3, -2.0, 3.0);

  // training: y = γ(x − μ)/√(σ² + ε) + β with biased batch variance; running stats move by momentum
  const Tensor<double> y = forward_value(bn, x, {.training = true});
  const double M = 2 * 12;
  for (index_t c = 0; c < 3; ++c) {
    double mu = 0, var = 0;
    for (index_t n = 0; n < 2; ++n)
      for (index_t i = 0; i < 12; ++i) mu += x[(n * 3 + c) * 12 + i] / M;
    for (index_t n = 0; n < 2; ++n)
      for (index_t i = 0; i < 12; ++i) var += std::pow(x[(n * 3 + c) * 12 + i] - mu, 2) / M;
    for (index_t n = 0; n < 2; ++n)
      for (index_t i = 0; i < 12; ++i) {
        const index_t k = (n * 3 + c) * 12 + i;
        CHECK(y[k] == Approx(bn.weight.value[c] * (x[k] - mu) / std::sqrt(var + 1e-5) + bn.bias.value[c]).margin(1e-12));
      }
    CHECK(bn.running_mean[c] == Approx(0.2 * mu));
    CHECK(bn.running_var[c] == Approx(0.8 + 0.2 * var * M / (M - 1)));
  }
  // evaluation reads the running stats and leaves them alone
  const Tensor<double> mean = bn.running_mean, var = bn.running_var;
  const Tensor<double> z = forward_value(bn, x);
  for (index_t k = 0; k < x.numel(); ++k) {
    const index_t c = (k / 12) % 3;
    CHECK(z[k] == Approx(bn.weight.value[c] * (x[k] - mean[c]) / std::sqrt(var[c] + 1e-5) + bn.bias.value[c]).margin(1e-12));
  }
  CHECK(bitwise_equal(bn.running_mean, mean));
  CHECK(bitwise_equal(bn.running_var, var));
}

TEST_CASE("parameter-free layers are their ops", "[layers]") {
  const Tensor<float> x = random_tensor<float>(Shape{2, 3, 5, 6}, 4);
  Tape<float> tape;
  const Var<float> xv = tape.constant(x);
  ReLU<float> relu;
  MaxPool2d<float> pool;
  Upsample<float> nearest, bilinear({upsample_mode::bilinear});
  CHECK(bitwise_equal(forward_value(relu, x), ops::relu(xv).value()));
  CHECK(bitwise_equal(forward_value(pool, x), ops::max_pool2d(xv).value()));
  CHECK(bitwise_equal(forward_value(nearest, x), ops::upsample_nearest2x(xv).value()));
  CHECK(bitwise_equal(forward_value(bilinear, x), ops::upsample_bilinear2x(xv).value()));
  CHECK(forward_value(pool, x).shape() == Shape{2, 3, 2, 3});
  CHECK(forward_value(bilinear, x).shape() == Shape{2, 3, 10, 12});
}

TEST_CASE("Dropout: seeded masks per stream, identity in evaluation", "[layers][dropout]") {
  const Tensor<float> x(Shape{1, 4, 16, 16}, 1.0f);
  Dropout<float> d({.p = 0.25, .stream = 1}), same({.p = 0.25, .stream = 1}), other({.p = 0.25, .stream = 2});
  CHECK(bitwise_equal(forward_value(d, x), x));  // ctx.training = false
  const forward_context<float> step{.training = true, .seed = 11};
  const Tensor<float> y = forward_value(d, x, step);
  CHECK(bitwise_equal(y, forward_value(same, x, step)));       // same seed and stream: same mask
  CHECK_FALSE(bitwise_equal(y, forward_value(other, x, step)));  // another stream
  CHECK_FALSE(bitwise_equal(y, forward_value(d, x, {.training = true, .seed = 12})));  // another step
  Tape<float> tape;
  const Var<float> expected = ops::dropout(tape.constant(x), 0.25f, d.mask_seed(11), true);
  CHECK(bitwise_equal(y, expected.value()));
  index_t dropped = 0;
  for (float v : y.span()) {
    CHECK((v == 0.0f || v == Approx(1 / 0.75f)));
    dropped += v == 0.0f;
  }
  CHECK(dropped > 1024 * 0.15);
  CHECK(dropped < 1024 * 0.35);

  // name_dropout_streams: distinct, path-derived, stable streams
  Sequential net{Dropout<float>({0.5}), ReLU<float>{}, Dropout<float>({0.5})};
  name_dropout_streams(net);
  CHECK(net.get<0>().options().stream != net.get<2>().options().stream);
  Sequential again{Dropout<float>({0.5}), ReLU<float>{}, Dropout<float>({0.5})};
  name_dropout_streams(again);
  CHECK(again.get<2>().options().stream == net.get<2>().options().stream);
}

TEST_CASE("parameters and buffers have PyTorch state_dict names in a fixed order", "[layers][names]") {
  Sequential net{Conv2d<float>(conv2d_options{.in_channels = 1, .out_channels = 4, .padding = 1}, 1),
                 BatchNorm2d<float>({4}), ReLU<float>{},
                 Conv2d<float>(conv2d_options{.in_channels = 4, .out_channels = 4, .bias = false}, 2),
                 Bias<float>({4}), Linear<float>(linear_options{.in_features = 4, .out_features = 2}, 3)};
  CHECK(test::parameter_names(net) == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias",
                                                               "3.weight", "4.bias", "5.weight", "5.bias"});
  std::vector<std::string> buffers;
  for_each_buffer(net, [&](const std::string& name, Tensor<float>&) { buffers.push_back(name); });
  CHECK(buffers == std::vector<std::string>{"1.running_mean", "1.running_var"});
  std::vector<std::string> leaves;
  for_each_layer(net, [&](const std::string& path, auto&) { leaves.push_back(path); });
  CHECK(leaves == std::vector<std::string>{"0", "1", "2", "3", "4", "5"});

  // A user struct with visit_layers nests its children's names; named_parameters feeds optimizers.
  TwoStage<float> two(init_rng(5));
  CHECK(test::parameter_names(two) ==
        std::vector<std::string>{"encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias",
                                 "head.weight", "head.bias"});
  const auto named = named_parameters(two, "net");
  REQUIRE(named.size() == 6);
  CHECK(named[4].first == "net.head.weight");
  CHECK(named[4].second == &two.head.weight);
  std::vector<std::string> paths;
  for_each_layer(two, [&](const std::string& path, auto&) { paths.push_back(path); });
  CHECK(paths == std::vector<std::string>{"encoder.0", "encoder.1", "encoder.2", "head"});
}

TEST_CASE("Sequential applies its children in order", "[layers][sequential]") {
  Sequential net{Conv2d<double>(conv2d_options{.in_channels = 2, .out_channels = 3, .padding = 1}, 1), ReLU<double>{},
                 MaxPool2d<double>{}};
  const Tensor<double> x = random_tensor<double>(Shape{1, 2, 6, 6}, 2);
  Tape<double> tape;
  const forward_context<double> ctx;
  const Var<double> manual =
      net.get<2>().forward(tape, net.get<1>().forward(tape, net.get<0>().forward(tape, tape.constant(x), ctx), ctx), ctx);
  CHECK(bitwise_equal(forward_value(net, x), manual.value()));
  CHECK(decltype(net)::size() == 3);
}

TEST_CASE("every layer's gradients match finite differences", "[layers][gradcheck]") {
  const Tensor<double> x = random_tensor<double>(Shape{2, 3, 5, 4}, 21);
  SECTION("Conv2d, stride 1 and 2, with and without bias") {
    Conv2d<double> a(conv2d_options{.in_channels = 3, .out_channels = 2, .padding = 1}, 1);
    Conv2d<double> b(conv2d_options{.in_channels = 3, .out_channels = 2, .stride = 2, .bias = false}, 2);
    require_gradients(a, x);
    require_gradients(b, x);
  }
  SECTION("Linear") {
    Linear<double> fc(linear_options{.in_features = 3, .out_features = 2}, 3);
    require_gradients(fc, x);
  }
  SECTION("Bias") {
    Bias<double> b({3});
    test::randomize(b.bias, 4);
    require_gradients(b, x);
  }
  SECTION("BatchNorm2d, training and evaluation") {
    BatchNorm2d<double> bn({3});
    test::randomize(bn.weight, 5);
    test::randomize(bn.bias, 6);
    require_gradients(bn, x, {.training = true});
    bn.running_mean = random_tensor<double>(Shape{3}, 7);
    bn.running_var = random_tensor<double>(Shape{3}, 8, 0.5, 2.0);
    require_gradients(bn, x);
  }
  SECTION("parameter-free layers") {
    ReLU<double> relu;
    MaxPool2d<double> pool;
    Upsample<double> nearest, bilinear({upsample_mode::bilinear});
    Dropout<double> drop({.p = 0.3, .stream = 3});
    require_gradients(relu, x);
    require_gradients(pool, x);
    require_gradients(nearest, x);
    require_gradients(bilinear, x);
    require_gradients(drop, x, {.training = true, .seed = 5});
  }
  SECTION("a user-defined network") {
    TwoStage<double> net(init_rng(9));
    require_gradients(net, random_tensor<double>(Shape{2, 1, 4, 4}, 10), {.training = true});
  }
}

TEST_CASE("layer options are validated", "[layers][errors]") {
  CHECK_THROWS_WITH(Conv2d<float>(conv2d_options{.in_channels = 0}), Catch::Contains("Conv2d: channels and kernel_size must be positive"));
  CHECK_THROWS_WITH(Dropout<float>({.p = 1.0}), Catch::Contains("Dropout: p must be in [0, 1)"));
  CHECK_THROWS_WITH(BatchNorm2d<float>({.channels = 2, .eps = 0}), Catch::Contains("BatchNorm2d: bad eps"));
  Conv2d<float> conv(conv2d_options{.in_channels = 3, .out_channels = 2});
  Tape<float> tape;
  CHECK_THROWS_WITH(conv.forward(tape, tape.constant(Tensor<float>(Shape{1, 2, 5, 5})), {}),
                    Catch::Contains("input has 2 channels"));
}
