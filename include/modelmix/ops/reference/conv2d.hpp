#pragma once
// Plain-loop mixed 2D convolution: the oracle every other path is tested against. Written for
// obviousness, not speed; it materializes the mixed filter, which the fast paths never do.
//
//   W = Σ_i c_i·W_i        b = Σ_i c_i·b_i
//   x [N,C,H,W]   W_i [K,C,R,S]   b_i [K]   y, dy [N,K,P,Q]
//   ih = p·stride_h − pad_h + r,  iw = q·stride_w − pad_w + s   (taps outside the image read 0)
//
//   fprop  y[n,k,p,q]    = b[k] + Σ_{c,r,s} W[k,c,r,s] · x[n,c,ih,iw]
//   dgrad  dx[n,c,ih,iw] += Σ_{k,r,s} W[k,c,r,s] · dy[n,k,p,q]
//   wgrad  dW[k,c,r,s]   = Σ_{n,p,q} dy[n,k,p,q] · x[n,c,ih,iw]     db[k] = Σ_{n,p,q} dy[n,k,p,q]
//          grad_weight_i += c_i·dW   grad_bias_i += c_i·db   grad_coeff_i += ⟨dW, W_i⟩ + ⟨db, b_i⟩
//
// fprop overwrites y; dgrad and wgrad accumulate (+=) into their outputs. Sums run in double.
#include <vector>

#include "modelmix/ops/conv2d_spec.hpp"

namespace modelmix::ops::reference {

namespace detail {
// The mixed parameter in double: the one Σ c_i·θ_i (mixing/spec.hpp) with a double accumulator.
template <class T>
std::vector<double> mixed(const mixing::spec<T>& spec, bool bias) {
  std::vector<double> out(static_cast<std::size_t>(bias ? spec.bias_numel : spec.weight_numel));
  mixing::weighted_sum(out.data(), index_t(out.size()), spec, bias ? &mixing::term<T>::bias : &mixing::term<T>::weight);
  return out;
}

// Calls f(n, k, p, q, c, r, s, x_index) for every tap that lands inside the image.
template <class F>
void for_each_tap(const conv2d_problem& pb, F&& f) {
  for (index_t n = 0; n < pb.N; ++n)
    for (index_t k = 0; k < pb.K; ++k)
      for (index_t p = 0; p < pb.P(); ++p)
        for (index_t q = 0; q < pb.Q(); ++q)
          for (index_t c = 0; c < pb.C; ++c)
            for (index_t r = 0; r < pb.R; ++r)
              for (index_t s = 0; s < pb.S; ++s) {
                const index_t ih = p * pb.stride_h - pb.pad_h + r, iw = q * pb.stride_w - pb.pad_w + s;
                if (ih < 0 || ih >= pb.H || iw < 0 || iw >= pb.W) continue;
                f(n, k, p, q, c, r, s, ((n * pb.C + c) * pb.H + ih) * pb.W + iw);
              }
}
inline index_t y_index(const conv2d_problem& pb, index_t n, index_t k, index_t p, index_t q) {
  return ((n * pb.K + k) * pb.P() + p) * pb.Q() + q;
}
inline index_t w_index(const conv2d_problem& pb, index_t k, index_t c, index_t r, index_t s) {
  return ((k * pb.C + c) * pb.R + r) * pb.S + s;
}
}  // namespace detail

template <class T>
void conv2d_fprop(const conv2d_problem& pb, const T* x, T* y, const mixing::spec<T>& spec) {
  check_conv2d_spec("reference::conv2d_fprop", pb, spec, conv2d_role::fprop);
  const std::vector<double> w = detail::mixed(spec, false), b = detail::mixed(spec, true);
  std::vector<double> acc(static_cast<std::size_t>(pb.N * pb.K * pb.P() * pb.Q()), 0.0);
  detail::for_each_tap(pb, [&](index_t n, index_t k, index_t p, index_t q, index_t c, index_t r, index_t s, index_t xi) {
    acc[detail::y_index(pb, n, k, p, q)] += w[detail::w_index(pb, k, c, r, s)] * double(x[xi]);
  });
  for (index_t n = 0; n < pb.N; ++n)
    for (index_t k = 0; k < pb.K; ++k)
      for (index_t pq = 0; pq < pb.P() * pb.Q(); ++pq) {
        const index_t i = (n * pb.K + k) * pb.P() * pb.Q() + pq;
        y[i] = T(acc[i] + (spec.has_bias() ? b[k] : 0.0));
      }
}

template <class T>
void conv2d_dgrad(const conv2d_problem& pb, const T* dy, T* dx, const mixing::spec<T>& spec) {
  check_conv2d_spec("reference::conv2d_dgrad", pb, spec, conv2d_role::dgrad);
  const std::vector<double> w = detail::mixed(spec, false);
  std::vector<double> acc(static_cast<std::size_t>(pb.N * pb.C * pb.H * pb.W), 0.0);
  detail::for_each_tap(pb, [&](index_t n, index_t k, index_t p, index_t q, index_t c, index_t r, index_t s, index_t xi) {
    acc[xi] += w[detail::w_index(pb, k, c, r, s)] * double(dy[detail::y_index(pb, n, k, p, q)]);
  });
  for (std::size_t i = 0; i < acc.size(); ++i) dx[i] += T(acc[i]);
}

template <class T>
void conv2d_wgrad(const conv2d_problem& pb, const T* x, const T* dy, const mixing::spec<T>& spec) {
  check_conv2d_spec("reference::conv2d_wgrad", pb, spec, conv2d_role::wgrad);
  std::vector<double> dw(static_cast<std::size_t>(spec.weight_numel), 0.0), db(static_cast<std::size_t>(pb.K), 0.0);
  detail::for_each_tap(pb, [&](index_t n, index_t k, index_t p, index_t q, index_t c, index_t r, index_t s, index_t xi) {
    dw[detail::w_index(pb, k, c, r, s)] += double(dy[detail::y_index(pb, n, k, p, q)]) * double(x[xi]);
  });
  for (index_t n = 0; n < pb.N; ++n)
    for (index_t k = 0; k < pb.K; ++k)
      for (index_t pq = 0; pq < pb.P() * pb.Q(); ++pq) db[k] += double(dy[(n * pb.K + k) * pb.P() * pb.Q() + pq]);

  for (const mixing::term<T>& t : spec.terms) {
    double dc = 0;
    for (index_t j = 0; j < spec.weight_numel; ++j) {
      if (t.grad_weight) t.grad_weight[j] += T(double(t.coeff) * dw[j]);
      if (t.grad_coeff) dc += dw[j] * double(t.weight[j]);
    }
    for (index_t k = 0; k < spec.bias_numel; ++k) {
      if (t.grad_bias) t.grad_bias[k] += T(double(t.coeff) * db[k]);
      if (t.grad_coeff) dc += db[k] * double(t.bias[k]);
    }
    if (t.grad_coeff) *t.grad_coeff += T(dc);
  }
}

}  // namespace modelmix::ops::reference
