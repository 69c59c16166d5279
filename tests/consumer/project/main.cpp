// A downstream program: mixes two convolutions through the installed / fetched headers and
// checks the linearity the library is built on:
//   conv(x, λ·Wa + (1−λ)·Wb) + λ·ba + (1−λ)·bb  ==  λ·conv(x, Wa; ba) + (1−λ)·conv(x, Wb; bb)
#include <cmath>
#include <cstdio>
#include <vector>

#include <modelmix/modelmix.hpp>

int main() {
  using namespace modelmix;
  const float lambda = 0.3f;
  Tensor<float> x(Shape{2, 3, 9, 7}), wa(Shape{4, 3, 3, 3}), wb(Shape{4, 3, 3, 3}), ba(Shape{4}), bb(Shape{4});
  for (Tensor<float>* t : {&x, &wa, &wb, &ba, &bb})
    for (index_t i = 0; i < t->numel(); ++i) (*t)[i] = std::sin(0.7f * float(i) + float(t->numel()));

  Tape<float> tape;
  Var<float> xv = tape.constant(x);
  const ops::conv2d_options options{.stride = 1, .padding = 1};
  std::vector<mixing::operand<float>> parents{
      {tape.constant(wa), tape.constant(ba), tape.constant(Tensor<float>(Shape{1}, lambda))},
      {tape.constant(wb), tape.constant(bb), tape.constant(Tensor<float>(Shape{1}, 1 - lambda))}};
  const Tensor<float>& mixed = ops::conv2d(xv, std::span<const mixing::operand<float>>(parents), options).value();
  const Tensor<float>& ya = ops::conv2d(xv, tape.constant(wa), tape.constant(ba), options).value();
  const Tensor<float>& yb = ops::conv2d(xv, tape.constant(wb), tape.constant(bb), options).value();

  double worst = 0;
  for (index_t i = 0; i < mixed.numel(); ++i)
    worst = std::fmax(worst, std::fabs(mixed[i] - (lambda * ya[i] + (1 - lambda) * yb[i])));
  std::printf("consumer: mixed conv output %s, max deviation from the interpolated outputs %.3g\n",
              mixed.shape().str().c_str(), worst);
  return worst < 1e-4 ? 0 : 1;
}
