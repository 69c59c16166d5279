#pragma once
// `keep ? v : +0` as a bit mask, for the CPU loops that select per element. GCC keeps a loop
// scalar when the select's condition comes from a wider or differently typed computation: inside
// batch_norm2d_backward's double reduction it became a branch (the fused BN + ReLU backward ran
// 1.7× slower), and beside dropout's 64-bit hash it was "control flow in loop" under AVX2. A
// multiply by the mask would not do: it turns an infinite v into NaN and a negative one into −0.
#include <bit>
#include <cstdint>
#include <type_traits>

namespace modelmix::ops::cpu {

template <class T>
T keep_or_zero(bool keep, T v) {
  using bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  return std::bit_cast<T>(std::bit_cast<bits>(v) & (bits(0) - bits(keep)));
}

}  // namespace modelmix::ops::cpu
