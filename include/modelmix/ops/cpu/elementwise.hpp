#pragma once
// Elementwise loops of the CPU backend over flat storage of n elements (ops/elementwise.hpp,
// ops/activation.hpp and ops/reduce.hpp call them). Outputs named y are overwritten; those
// named d (gradients) are accumulated into (+=).
#include <cmath>

#include "modelmix/ops/cpu/parallel.hpp"

namespace modelmix::ops::cpu {

// d += s·x
template <class T>
void axpy(T s, const T* x, T* d, index_t n) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) d[i] += s * x[i];
  });
}
// d += s (a broadcast scalar gradient)
template <class T>
void add_constant(T s, T* d, index_t n) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) d[i] += s;
  });
}

template <class T>
void add(const T* a, const T* b, T* y, index_t n) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) y[i] = a[i] + b[i];
  });
}
template <class T>
void sub(const T* a, const T* b, T* y, index_t n) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) y[i] = a[i] - b[i];
  });
}
template <class T>
void mul(const T* a, const T* b, T* y, index_t n) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) y[i] = a[i] * b[i];
  });
}
// d += g ⊙ other
template <class T>
void mul_backward(const T* g, const T* other, T* d, index_t n) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) d[i] += g[i] * other[i];
  });
}
template <class T>
void scale(T s, const T* a, T* y, index_t n) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) y[i] = s * a[i];
  });
}
template <class T>
void add_scalar(T s, const T* a, T* y, index_t n) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) y[i] = a[i] + s;
  });
}
template <class T>
void log(T eps, const T* x, T* y, index_t n) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) y[i] = std::log(x[i] + eps);
  });
}
// d += g / (x + ε)
template <class T>
void log_backward(T eps, const T* x, const T* g, T* d, index_t n) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) d[i] += g[i] / (x[i] + eps);
  });
}

template <class T>
void relu(const T* x, T* y, index_t n) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
  });
}
// d += g·[x > 0], or d = g·[x > 0] when `assign`
template <class T>
void relu_backward(const T* x, const T* g, T* d, index_t n, bool assign = false) {
  parallel_chunks(n, [=](index_t i0, index_t i1) {
    // g[i] is read unconditionally so the select vectorises to a blend (a conditional load
    // keeps the loop scalar: 10× slower)
    if (assign)
      for (index_t i = i0; i < i1; ++i) {
        const T gi = g[i];
        d[i] = x[i] > T(0) ? gi : T(0);
      }
    else
      for (index_t i = i0; i < i1; ++i) {
        const T gi = g[i];
        d[i] += x[i] > T(0) ? gi : T(0);
      }
  });
}

// Σ x_i accumulated in double whatever T is.
template <class T>
double total(const T* x, index_t n) {
  double s = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : s) if (n >= parallel_min_work)
  for (index_t i = 0; i < n; ++i) s += double(x[i]);
  return s;
}

}  // namespace modelmix::ops::cpu
