#pragma once
// Elementwise ops and full reductions on a CUDA device, as the g++-compiled core calls them:
// float launches of the kernels in ops/cuda/elementwise.cuh, compiled into modelmix::cuda
// (src/cuda/elementwise.cu) or, in the tests, into the emulated device (tests/support/emu_device.cpp).
// Same contract as ops/cpu/elementwise.hpp, whose loops they mirror one for one:
//
//   op              reads       writes                     op              reads       writes
//   axpy            a, s        y += s·a                   scale           a, s        y = s·a
//   add_constant    s           y += s                     add_scalar      a, s        y = a + s
//   add / sub / mul a, b        y = a ∘ b                  log             a, s = ε    y = log(a + ε)
//   mul_backward    a, b        y += a ⊙ b                 log_backward    a = x, b = g, s = ε: y += g / (x + ε)
//   relu            a           y = max(a, 0)              relu_backward   a = x, b = g: y (+)= g·[x > 0]
//
// Pointers are device memory; work is queued on the calling thread's cuda::context stream.
#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

enum class elementwise_op : int {
  axpy, add_constant, add, sub, mul, mul_backward, scale, add_scalar, log, log_backward, relu, relu_backward
};

struct elementwise_args {
  elementwise_op op = elementwise_op::add;
  float s = 0;
  const float* a = nullptr;
  const float* b = nullptr;
  float* y = nullptr;
  index_t n = 0;
  bool assign = false;  // relu_backward: y = … instead of y += …
};

void elementwise(const elementwise_args& args);

// out[0] = (Σ_i x_i) / divisor, summed in double in a fixed order (reproducible), like
// cpu::total. x has n elements (n may be 0: out[0] = 0).
void sum(const float* x, index_t n, double divisor, float* out);

// d_i += float(double(g[0])·factor) for i < n: the backward of sum and mean, reading the
// incoming gradient where it lives (no copy to the host).
void add_broadcast(const float* g, double factor, float* d, index_t n);

}  // namespace modelmix::ops::cuda
