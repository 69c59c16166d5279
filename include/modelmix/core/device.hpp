#pragma once
// Device tags. Dispatch happens with `if constexpr` on these types, in one place per op.
#include <type_traits>

namespace modelmix {

struct cpu_t {
  static constexpr const char* name = "cpu";
};
struct cuda_t {
  static constexpr const char* name = "cuda";
};
inline constexpr cpu_t cpu{};
inline constexpr cuda_t cuda{};

template <class D>
concept Device = std::is_same_v<D, cpu_t> || std::is_same_v<D, cuda_t>;

template <class T>
concept Scalar = std::is_same_v<T, float> || std::is_same_v<T, double>;

}  // namespace modelmix
