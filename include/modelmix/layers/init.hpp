#pragma once
// Parameter initialisation, as PyTorch does it for Conv2d and Linear:
//   weight ~ kaiming_uniform(a = √5)  =  U(−1/√fan_in, 1/√fan_in)
//   bias   ~ U(−1/√fan_in, 1/√fan_in)            fan_in = C·R·S
// Layers take an init_rng& (one generator threaded through a network's constructor, like
// PyTorch's global generator) or a seed. The uniform numbers come from the 53 high bits of
// mt19937_64 (fully specified by the standard), so weights are identical on every platform.
#include <cmath>
#include <cstdint>
#include <random>

#include "modelmix/tensor/tensor.hpp"

namespace modelmix::layers {

using init_rng = std::mt19937_64;

template <class T>
void uniform_init(Tensor<T>& t, double lo, double hi, init_rng& rng) {
  for (index_t i = 0; i < t.numel(); ++i) t[i] = T(lo + (hi - lo) * double(rng() >> 11) * 0x1.0p-53);
}

template <class T>
void kaiming_uniform_init(Tensor<T>& t, index_t fan_in, init_rng& rng) {
  const double bound = 1.0 / std::sqrt(double(fan_in));
  uniform_init(t, -bound, bound, rng);
}

}  // namespace modelmix::layers
