#pragma once
// The 2D U-Net of the ModelMix paper (docs/method.md), configurable width and depth.
//
//   level ℓ = 1..depth has w·2^(ℓ−1) channels (original: w = 64, depth 5 → 64 … 1024)
//   block  = conv3×3 → BN → ReLU → dropout → conv3×3 → BN → ReLU
//   encoder: block1 on the input, then (max-pool 2 → block) per level; encoder dropout
//            p = (0.05, 0.1, 0.2, 0.3, 0.5)/3 by default (the original's), none in the decoder
//   decoder: per level, nearest ×2 upsample → conv3×3 halving channels → BN → ReLU,
//            concatenate the encoder skip, then a block
//   head:    conv1×1 to `classes` logits, then softmax over channels (losses act on
//            probabilities, as in the original)
//   each conv → BN → ReLU runs fused (layers/conv_bn_relu.hpp): one convolution in evaluation,
//   BN and ReLU as one op in training
//
//   x [N, in_channels, S, S] → p [N, classes, S, S]; S must be divisible by 2^(depth−1).
//
// Parameter names follow a PyTorch state_dict: encoder.block1.conv1.weight,
// encoder.block1.bn1.running_mean, decoder.up1.conv.weight, decoder.up1.block.conv2.bias,
// head.weight, … Network-level mixing selects among the encoder's Conv2d and BatchNorm2d
// leaves (unet_encoder_layers()).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "modelmix/layers/layers.hpp"
#include "modelmix/ops/concat.hpp"
#include "modelmix/ops/softmax.hpp"

namespace modelmix::models {

struct unet_options {
  index_t in_channels = 1;
  index_t classes = 4;
  index_t width = 16;  // channels of the first level (original 64)
  int depth = 5;       // levels, i.e. depth−1 poolings
  // Per level, from the top; a shallower net uses the first `depth` entries; empty = none.
  std::vector<double> encoder_dropout = {0.05 / 3, 0.1 / 3, 0.2 / 3, 0.3 / 3, 0.5 / 3};
  layers::upsample_mode upsample = layers::upsample_mode::nearest;
  std::uint64_t seed = 42;  // weight initialisation

  void validate() const {
    MODELMIX_REQUIRE(in_channels > 0 && classes > 1 && width > 0, "unet_options: in_channels ", in_channels,
                     ", classes ", classes, " and width ", width, " must be positive (classes >= 2)");
    MODELMIX_REQUIRE(depth >= 1 && depth <= 8, "unet_options: depth must be in [1, 8], got ", depth);
    MODELMIX_REQUIRE(encoder_dropout.empty() || static_cast<int>(encoder_dropout.size()) >= depth,
                     "unet_options: encoder_dropout has ", encoder_dropout.size(), " entries for ", depth, " levels");
  }
};

// conv3×3 → BN → ReLU → dropout → conv3×3 → BN → ReLU
template <class T>
class UNetBlock {
 public:
  using value_type = T;

  UNetBlock(index_t in, index_t out, double dropout, layers::init_rng& rng)
      : conv1({.in_channels = in, .out_channels = out, .kernel_size = 3, .padding = 1}, rng),
        bn1({.channels = out}),
        dropout({.p = dropout}),
        conv2({.in_channels = out, .out_channels = out, .kernel_size = 3, .padding = 1}, rng),
        bn2({.channels = out}) {}

  Var<T> forward(Tape<T>& tape, const Var<T>& x, const layers::forward_context<T>& ctx) {
    Var<T> h = layers::conv_bn_relu(tape, conv1, bn1, x, ctx);
    h = dropout.forward(tape, h, ctx);
    return layers::conv_bn_relu(tape, conv2, bn2, h, ctx);
  }
  template <class F>
  void visit_layers(const std::string& prefix, F&& f) {
    using layers::join_path;
    f(join_path(prefix, "conv1"), conv1);
    f(join_path(prefix, "bn1"), bn1);
    f(join_path(prefix, "relu1"), relu1);
    f(join_path(prefix, "dropout"), dropout);
    f(join_path(prefix, "conv2"), conv2);
    f(join_path(prefix, "bn2"), bn2);
    f(join_path(prefix, "relu2"), relu2);
  }

  layers::Conv2d<T> conv1;
  layers::BatchNorm2d<T> bn1;
  layers::ReLU<T> relu1;
  layers::Dropout<T> dropout;
  layers::Conv2d<T> conv2;
  layers::BatchNorm2d<T> bn2;
  layers::ReLU<T> relu2;
};

// upsample ×2 → conv3×3 (in → out) → BN → ReLU, concat skip (out channels), block (2·out → out)
template <class T>
class UNetUp {
 public:
  using value_type = T;

  UNetUp(index_t in, index_t out, layers::upsample_mode mode, layers::init_rng& rng)
      : up({.mode = mode}),
        conv({.in_channels = in, .out_channels = out, .kernel_size = 3, .padding = 1}, rng),
        bn({.channels = out}),
        block(2 * out, out, 0.0, rng) {}

  Var<T> forward(Tape<T>& tape, const Var<T>& x, const Var<T>& skip, const layers::forward_context<T>& ctx) {
    Var<T> h = layers::conv_bn_relu(tape, conv, bn, up.forward(tape, x, ctx), ctx);
    return block.forward(tape, ops::concat_channels<T>({skip, h}), ctx);
  }
  template <class F>
  void visit_layers(const std::string& prefix, F&& f) {
    using layers::join_path;
    f(join_path(prefix, "up"), up);
    f(join_path(prefix, "conv"), conv);
    f(join_path(prefix, "bn"), bn);
    f(join_path(prefix, "relu"), relu);
    f(join_path(prefix, "block"), block);
  }

  layers::Upsample<T> up;
  layers::Conv2d<T> conv;
  layers::BatchNorm2d<T> bn;
  layers::ReLU<T> relu;
  UNetBlock<T> block;
};

template <class T>
class UNet {
 public:
  using value_type = T;

  explicit UNet(const unet_options& options) : options_(options) {
    options.validate();
    layers::init_rng rng(options.seed);
    index_t channels = options.width, in = options.in_channels;
    for (int level = 0; level < options.depth; ++level) {
      const double p = options.encoder_dropout.empty() ? 0.0 : options.encoder_dropout[std::size_t(level)];
      encoder_.emplace_back(in, channels, p, rng);
      in = channels;
      channels *= 2;
    }
    for (int level = options.depth - 1; level > 0; --level) {
      decoder_.emplace_back(in, in / 2, options.upsample, rng);
      in /= 2;
    }
    head_ = std::make_unique<layers::Conv2d<T>>(
        layers::conv2d_options{.in_channels = options.width, .out_channels = options.classes, .kernel_size = 1}, rng);
    layers::name_dropout_streams(*this);
  }
  UNet(const UNet&) = delete;  // mixed views and optimizers hold pointers into a network
  UNet& operator=(const UNet&) = delete;

  // Softmax probabilities [N, classes, S, S].
  Var<T> forward(Tape<T>& tape, const Var<T>& x, const layers::forward_context<T>& ctx) {
    return ops::softmax_channels(logits(tape, x, ctx));
  }

  Var<T> logits(Tape<T>& tape, const Var<T>& x, const layers::forward_context<T>& ctx) {
    check_input(x.shape());
    std::vector<Var<T>> skips;
    Var<T> h = x;
    for (std::size_t level = 0; level < encoder_.size(); ++level) {
      if (level > 0) h = pool_.forward(tape, h, ctx);
      h = encoder_[level].forward(tape, h, ctx);
      skips.push_back(h);
    }
    for (std::size_t i = 0; i < decoder_.size(); ++i) h = decoder_[i].forward(tape, h, skips[skips.size() - 2 - i], ctx);
    return head_->forward(tape, h, ctx);
  }

  template <class F>
  void visit_layers(const std::string& prefix, F&& f) {
    using layers::join_path;
    for (std::size_t i = 0; i < encoder_.size(); ++i) f(join_path(prefix, cat("encoder.block", i + 1)), encoder_[i]);
    for (std::size_t i = 0; i < decoder_.size(); ++i) f(join_path(prefix, cat("decoder.up", i + 1)), decoder_[i]);
    f(join_path(prefix, "head"), *head_);
  }

  [[nodiscard]] const unet_options& options() const { return options_; }
  [[nodiscard]] index_t size_multiple() const { return index_t(1) << (options_.depth - 1); }

 private:
  void check_input(const Shape& s) const {
    MODELMIX_REQUIRE(s.rank() == 4 && s[1] == options_.in_channels, "UNet: input must be [N, ", options_.in_channels,
                     ", H, W], got ", s);
    MODELMIX_REQUIRE(s[2] % size_multiple() == 0 && s[3] % size_multiple() == 0, "UNet: input size ", s[2], "x", s[3],
                     " must be divisible by ", size_multiple(), " for depth ", options_.depth);
  }

  unet_options options_;
  std::vector<UNetBlock<T>> encoder_;
  std::vector<UNetUp<T>> decoder_;
  layers::MaxPool2d<T> pool_;
  std::unique_ptr<layers::Conv2d<T>> head_;
};

// The mixable-layer set of METHOD.md: the encoder's conv and BN-affine layers.
inline bool unet_encoder_layers(const std::string& path) { return path.rfind("encoder.", 0) == 0; }

}  // namespace modelmix::models
