#pragma once
// Elementwise arithmetic on Vars. Binary ops need equal shapes (no broadcasting: a
// mismatch is an error, never a silent expansion). Any rank; loops run over flat storage.
//
//   add:        y = a + b            ∂a += g        ∂b += g
//   sub:        y = a − b            ∂a += g        ∂b += −g
//   mul:        y = a ⊙ b            ∂a += g ⊙ b    ∂b += g ⊙ a
//   scale:      y = s·a              ∂a += s·g
//   add_scalar: y = a + s            ∂a += g
//   log:        y = log(x + ε)       ∂x += g / (x + ε)     (x + ε ≤ 0 gives −inf/NaN, unchecked)
//
// Scalar arguments are not deduced (std::type_identity_t), so ops::scale(v, 0.5) works for
// a Var<float>.
//
// detail:: holds the chunked parallel loop and the shape check the other op headers share.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "modelmix/autograd/tape.hpp"

namespace modelmix::ops {
namespace detail {

// Below this many elements (or touched values) a loop stays on one thread: the fork costs
// more than it saves.
inline constexpr index_t parallel_min_work = index_t(1) << 15;

// body(begin, end) on contiguous chunks of [0, n); chunks run in parallel when n is large.
// Chunks keep the inner loops plain pointer loops that the compiler vectorises.
template <class Body>
void parallel_chunks(index_t n, const Body& body) {
  constexpr index_t chunk = index_t(1) << 14;
  const index_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n >= parallel_min_work)
  for (index_t k = 0; k < chunks; ++k) body(k * chunk, std::min(n, (k + 1) * chunk));
}

// dst += s · src over flat storage.
template <class T>
void axpy(T s, const Tensor<T>& src, Tensor<T>& dst) {
  const T* x = src.data();
  T* y = dst.data();
  parallel_chunks(src.numel(), [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) y[i] += s * x[i];
  });
}

inline void require_same_shape(const char* op, const Shape& a, const Shape& b) {
  MODELMIX_REQUIRE(a == b, op, ": operand shapes differ: ", a, " and ", b, " (no broadcasting)");
}

inline void require_nchw(const char* op, const Shape& x) {
  MODELMIX_REQUIRE(x.rank() == 4, op, ": expected an NCHW tensor (rank 4), got shape ", x);
}

}  // namespace detail

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = autograd::common_tape("add", {a, b});
  detail::require_same_shape("add", a.shape(), b.shape());
  Tensor<T> y(a.shape());
  const T *pa = a.value().data(), *pb = b.value().data();
  T* py = y.data();
  detail::parallel_chunks(y.numel(), [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) py[i] = pa[i] + pb[i];
  });
  return tape.record("add", std::move(y), {a, b}, [&tape, a, b](const Tensor<T>& g) {
    if (Tensor<T>* ga = tape.grad_slot(a)) detail::axpy(T(1), g, *ga);
    if (Tensor<T>* gb = tape.grad_slot(b)) detail::axpy(T(1), g, *gb);
  });
}

template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = autograd::common_tape("sub", {a, b});
  detail::require_same_shape("sub", a.shape(), b.shape());
  Tensor<T> y(a.shape());
  const T *pa = a.value().data(), *pb = b.value().data();
  T* py = y.data();
  detail::parallel_chunks(y.numel(), [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) py[i] = pa[i] - pb[i];
  });
  return tape.record("sub", std::move(y), {a, b}, [&tape, a, b](const Tensor<T>& g) {
    if (Tensor<T>* ga = tape.grad_slot(a)) detail::axpy(T(1), g, *ga);
    if (Tensor<T>* gb = tape.grad_slot(b)) detail::axpy(T(-1), g, *gb);
  });
}

template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = autograd::common_tape("mul", {a, b});
  detail::require_same_shape("mul", a.shape(), b.shape());
  Tensor<T> y(a.shape());
  const T *pa = a.value().data(), *pb = b.value().data();
  T* py = y.data();
  detail::parallel_chunks(y.numel(), [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) py[i] = pa[i] * pb[i];
  });
  return tape.record("mul", std::move(y), {a, b}, [&tape, a, b](const Tensor<T>& g) {
    const T* pg = g.data();
    // ∂a = g ⊙ b, ∂b = g ⊙ a: each input's gradient reads the other's value.
    auto product_into = [&](const Var<T>& target, const Var<T>& other) {
      if (Tensor<T>* gt = tape.grad_slot(target)) {
        const T* po = other.value().data();
        T* pt = gt->data();
        detail::parallel_chunks(g.numel(), [=](index_t i0, index_t i1) {
          for (index_t i = i0; i < i1; ++i) pt[i] += pg[i] * po[i];
        });
      }
    };
    product_into(a, b);
    product_into(b, a);
  });
}

template <class T>
Var<T> scale(const Var<T>& a, std::type_identity_t<T> s) {
  Tape<T>& tape = a.tape();
  Tensor<T> y(a.shape());
  const T* pa = a.value().data();
  T* py = y.data();
  detail::parallel_chunks(y.numel(), [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) py[i] = s * pa[i];
  });
  return tape.record("scale", std::move(y), {a}, [&tape, a, s](const Tensor<T>& g) {
    if (Tensor<T>* ga = tape.grad_slot(a)) detail::axpy(s, g, *ga);
  });
}

template <class T>
Var<T> add_scalar(const Var<T>& a, std::type_identity_t<T> s) {
  Tape<T>& tape = a.tape();
  Tensor<T> y(a.shape());
  const T* pa = a.value().data();
  T* py = y.data();
  detail::parallel_chunks(y.numel(), [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) py[i] = pa[i] + s;
  });
  return tape.record("add_scalar", std::move(y), {a}, [&tape, a](const Tensor<T>& g) {
    if (Tensor<T>* ga = tape.grad_slot(a)) detail::axpy(T(1), g, *ga);
  });
}

template <class T>
Var<T> log(const Var<T>& x, std::type_identity_t<T> eps = T(0)) {
  Tape<T>& tape = x.tape();
  Tensor<T> y(x.shape());
  const T* px = x.value().data();
  T* py = y.data();
  detail::parallel_chunks(y.numel(), [=](index_t i0, index_t i1) {
    for (index_t i = i0; i < i1; ++i) py[i] = std::log(px[i] + eps);
  });
  return tape.record("log", std::move(y), {x}, [&tape, x, eps](const Tensor<T>& g) {
    if (Tensor<T>* gx = tape.grad_slot(x)) {
      const T *pg = g.data(), *pv = x.value().data();
      T* pd = gx->data();
      detail::parallel_chunks(g.numel(), [=](index_t i0, index_t i1) {
        for (index_t i = i0; i < i1; ++i) pd[i] += pg[i] / (pv[i] + eps);
      });
    }
  });
}

}  // namespace modelmix::ops
