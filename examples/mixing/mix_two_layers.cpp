// Example 1: mix two convolutions, look at what the mixed view computes, and train a small
// network through a mixed layer so that gradients reach both parents.
//
//   ./build/examples/mixing/mix_two_layers
#include <cstdio>

#include <modelmix/modelmix.hpp>

using namespace modelmix;

int main() {
  // Two parents of the same shape, as two tasks' encoders would have.
  layers::Conv2d<float> a({.in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1}, 1);
  layers::Conv2d<float> b({.in_channels = 1, .out_channels = 4, .kernel_size = 3, .padding = 1}, 2);

  // θ = 0.3·θ_a + 0.7·θ_b, as a view: nothing is copied, the convolution forms the mix.
  auto mixed = a.mix(0.3, b);

  Tape<float> tape;
  Tensor<float> image(Shape{1, 1, 8, 8});
  for (index_t i = 0; i < image.numel(); ++i) image[i] = float(i % 8) / 8.0f;
  const Var<float> x = tape.constant(image);
  const layers::forward_context<float> ctx{.training = true};
  const Var<float> y_mixed = mixed.forward(tape, x, ctx);
  const Var<float> y_a = a.forward(tape, x, ctx), y_b = b.forward(tape, x, ctx);
  double worst = 0;
  for (index_t i = 0; i < y_mixed.value().numel(); ++i)
    worst = std::max(worst, std::abs(double(y_mixed.value()[i]) - (0.3 * y_a.value()[i] + 0.7 * y_b.value()[i])));
  std::printf("mixed conv == 0.3·conv_a + 0.7·conv_b up to %.2g (convolution is linear in its parameters)\n", worst);

  // Backward through the mix: parent i receives c_i·g.
  tape.backward(ops::mean(y_mixed));
  std::printf("|dL/dW_a| / |dL/dW_b| = %.3f (expected 0.3/0.7 = %.3f)\n",
              std::abs(a.weight.grad[0] / b.weight.grad[0]), 0.3 / 0.7);

  // Train a tiny segmentation net whose first layer is always a mix of two networks' layers.
  layers::Sequential<float, layers::Conv2d<float>, layers::ReLU<float>, layers::Conv2d<float>> net_a{
      layers::Conv2d<float>({.in_channels = 1, .out_channels = 8, .kernel_size = 3, .padding = 1}, 3),
      layers::ReLU<float>{},
      layers::Conv2d<float>({.in_channels = 8, .out_channels = 2, .kernel_size = 1}, 4)};
  decltype(net_a) net_b{layers::Conv2d<float>({.in_channels = 1, .out_channels = 8, .kernel_size = 3, .padding = 1}, 5),
                        layers::ReLU<float>{},
                        layers::Conv2d<float>({.in_channels = 8, .out_channels = 2, .kernel_size = 1}, 6)};
  auto params = layers::named_parameters(net_a, "a");
  for (auto& p : layers::named_parameters(net_b, "b")) params.push_back(p);
  optim::Adam<float> adam(params, {.lr = 1e-2});

  // Toy task: pixels brighter than 0.5 are foreground.
  Tensor<float> target(Shape{1, 2, 8, 8});
  for (index_t i = 0; i < 64; ++i) target[(image[i] > 0.5f ? 64 : 0) + i] = 1;
  for (int step = 0; step <= 200; ++step) {
    Tape<float> t;
    auto view = layers::mix_networks(net_a, 0.5, net_b, layers::select::path("0"));  // mix the first conv
    const Var<float> p = ops::softmax_channels(view.forward(t, t.constant(image), ctx));
    const Var<float> loss = losses::pce(p, t.constant(target));
    adam.zero_grad();
    t.backward(loss);
    adam.step();
    if (step % 50 == 0) std::printf("step %3d  loss %.4f\n", step, loss.value()[0]);
  }
  return 0;
}
