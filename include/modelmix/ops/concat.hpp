#pragma once
// Concatenation along axis 1 (channels of NCHW; any rank ≥ 2 works).
//
//   xs[k] [N, C_k, ...rest] → y [N, Σ C_k, ...rest]; all xs share N and rest.
//   ∂xs[k] += the slice of g at channels [offset_k, offset_k + C_k)
//
// In memory each sample n of y is the blocks xs[0][n], xs[1][n], ... laid end to end (copies in
// ops/cpu/concat.hpp; on a CUDA device one copy kernel per input, ops/cuda/concat.hpp).
#include <algorithm>
#include <initializer_list>
#include <span>
#include <vector>

#include "modelmix/ops/cpu/concat.hpp"
#include "modelmix/ops/cuda/concat.hpp"
#include "modelmix/ops/elementwise.hpp"

namespace modelmix::ops {

template <class T>
Var<T> concat_channels(std::span<const Var<T>> xs) {
  MODELMIX_REQUIRE(!xs.empty(), "concat_channels: no inputs");
  Tape<T>& tape = xs[0].tape();
  const Shape& first = xs[0].shape();
  MODELMIX_REQUIRE(first.rank() >= 2, "concat_channels: inputs need a channel axis (rank >= 2), got shape ", first);
  std::vector<index_t> dims = first.dims();
  dims[1] = 0;
  std::vector<index_t> block;  // elements per sample of each input: C_k · prod(rest)
  for (std::size_t k = 0; k < xs.size(); ++k) {
    MODELMIX_REQUIRE(xs[k].valid() && &xs[k].tape() == &tape, "concat_channels: input ", k,
                     " is empty or comes from a different tape");
    const Shape& s = xs[k].shape();
    bool compatible = s.rank() == first.rank();
    for (int a = 0; compatible && a < s.rank(); ++a) compatible = a == 1 || s[a] == first[a];
    MODELMIX_REQUIRE(compatible, "concat_channels: input ", k, " has shape ", s, ", input 0 has ", first,
                     "; all axes except 1 must match");
    dims[1] += s[1];
    block.push_back(s.numel() / std::max<index_t>(s[0], 1));
  }
  device where = device::cpu;
  std::vector<const T*> sources;  // the storage of each input, for the backend
  for (std::size_t k = 0; k < xs.size(); ++k) {
    where = device_of("concat_channels", {xs[0].value(), xs[k].value()});
    sources.push_back(xs[k].value().data());
  }
  Tensor<T> y = Tensor<T>::empty(Shape(dims), where);
  const index_t N = dims[0], out_block = y.numel() / std::max<index_t>(N, 1);
  run_on("concat_channels", where,
         [&] { cpu::concat_channels(sources.data(), block.data(), sources.size(), y.data(), N, out_block); },
         MODELMIX_CUDA_FLOAT(T, "concat_channels",
                             cuda::concat_channels(sources.data(), block.data(), sources.size(), y.data(), N, out_block)));

  std::vector<Var<T>> inputs(xs.begin(), xs.end());
  return tape.record("concat_channels", std::move(y), xs,
                     [&tape, inputs = std::move(inputs), block, N, out_block](const Tensor<T>& g) {
                       index_t offset = 0;
                       for (std::size_t k = 0; k < inputs.size(); ++k) {
                         if (const gradient_sink<T> gk = tape.grad_target(inputs[k]))
                           run_on(
                               "concat_channels", g.where(),
                               [&] {
                                 cpu::concat_channels_backward(g.data(), gk.slot->data(), N, out_block, offset,
                                                               block[k], gk.assign);
                               },
                               MODELMIX_CUDA_FLOAT(T, "concat_channels",
                                                   cuda::concat_channels_backward(g.data(), gk.slot->data(), N,
                                                                                  out_block, offset, block[k],
                                                                                  gk.assign)));
                         offset += block[k];
                       }
                     });
}

template <class T>
Var<T> concat_channels(const std::vector<Var<T>>& xs) {
  return concat_channels(std::span<const Var<T>>(xs));
}

template <class T>
Var<T> concat_channels(std::initializer_list<Var<T>> xs) {
  return concat_channels(std::span<const Var<T>>(xs.begin(), xs.size()));
}

}  // namespace modelmix::ops
