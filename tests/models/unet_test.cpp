#include <catch2/catch.hpp>

#include "modelmix/autograd/gradcheck.hpp"
#include "modelmix/models/unet.hpp"
#include "support/random.hpp"

using namespace modelmix;

TEST_CASE("UNet maps [N,1,S,S] to per-pixel class probabilities", "[models]") {
  models::UNet<float> net({.in_channels = 1, .classes = 4, .width = 4, .depth = 3});
  Tape<float> tape;
  const Var<float> x = tape.constant(test::random_tensor<float>(Shape{2, 1, 16, 16}, 1));
  const Var<float> p = net.forward(tape, x, {.training = true});
  REQUIRE(p.shape() == Shape{2, 4, 16, 16});
  for (index_t n = 0; n < 2; ++n)
    for (index_t i = 0; i < 16 * 16; ++i) {
      float sum = 0;
      for (index_t c = 0; c < 4; ++c) sum += p.value()[(n * 4 + c) * 256 + i];
      CHECK(sum == Approx(1.0f).epsilon(1e-5));
    }
  CHECK_THROWS_WITH(net.forward(tape, tape.constant(Tensor<float>(Shape{1, 1, 18, 18})), {}),
                    Catch::Contains("must be divisible by 4"));
  CHECK_THROWS_WITH(net.forward(tape, tape.constant(Tensor<float>(Shape{1, 2, 16, 16})), {}),
                    Catch::Contains("input must be [N, 1, H, W]"));
}

TEST_CASE("UNet parameters have PyTorch state_dict names", "[models]") {
  models::UNet<float> net({.width = 4, .depth = 3});
  std::vector<std::string> names;
  for (auto& [name, p] : layers::named_parameters(net)) names.push_back(name);
  CHECK(names.front() == "encoder.block1.conv1.weight");
  CHECK(std::find(names.begin(), names.end(), "encoder.block3.bn2.bias") != names.end());
  CHECK(std::find(names.begin(), names.end(), "decoder.up1.conv.weight") != names.end());
  CHECK(std::find(names.begin(), names.end(), "decoder.up2.block.conv2.bias") != names.end());
  CHECK(names.back() == "head.bias");
  std::vector<std::string> buffers;
  layers::for_each_buffer(net, [&](const std::string& name, Tensor<float>&) { buffers.push_back(name); });
  CHECK(buffers.front() == "encoder.block1.bn1.running_mean");
  // Encoder mixable set: the encoder's conv and BN layers, nothing from the decoder or head.
  auto mixable = layers::mixable_paths(net);
  const auto encoder = std::count_if(mixable.begin(), mixable.end(), models::unet_encoder_layers);
  CHECK(encoder == 3 * 4);  // 3 blocks × (2 conv + 2 BN)
}

TEST_CASE("UNet gradients match finite differences", "[models][gradcheck]") {
  models::UNet<double> net({.in_channels = 1, .classes = 3, .width = 2, .depth = 2, .encoder_dropout = {}});
  auto params = layers::named_parameters(net);
  std::vector<autograd::named_parameter<double>> checked;
  for (auto& [name, p] : params)
    if (name == "encoder.block1.conv1.weight" || name == "decoder.up1.conv.bias" || name == "head.weight")
      checked.push_back({name, p});
  auto fn = [&net](Tape<double>& tape, const std::vector<Var<double>>& in) {
    return net.forward(tape, in[0], {.training = true});
  };
  auto result = autograd::gradcheck(fn, {test::random_tensor<double>(Shape{2, 1, 4, 4}, 3)}, checked,
                                    {.rtol = 1e-4, .atol = 1e-6});
  INFO(result.report);
  CHECK(result.ok);
}
