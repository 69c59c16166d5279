#pragma once
// Comparing a tensor computed on the emulated device with its CPU counterpart.
#include <algorithm>
#include <cmath>
#include <limits>

#include "modelmix/tensor/tensor.hpp"

namespace modelmix::test {

// Largest |a − b| / max(1, |b|) over all elements (a may live on the device), with a NaN
// anywhere counting as infinitely wrong: a kernel that leaves an element unwritten leaves the
// emulated device's NaN fill in it.
template <class T>
double device_error(const Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() != b.shape()) return std::numeric_limits<double>::infinity();
  const Tensor<T> ha = a.to_host(), hb = b.to_host();
  double worst = 0;
  for (index_t i = 0; i < ha.numel(); ++i) {
    const double d = std::abs(double(ha[i]) - double(hb[i])) / std::max(1.0, std::abs(double(hb[i])));
    if (std::isnan(d)) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, d);
  }
  return worst;
}

// Float kernels doing the CPU loop's arithmetic (up to FMA contraction and summation order).
inline constexpr double device_tolerance = 1e-6;

}  // namespace modelmix::test
