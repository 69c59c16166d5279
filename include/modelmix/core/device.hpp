#pragma once
// Where a tensor's storage lives. A run-time property of the storage (Tensor::device()), so
// one Var/Tape type serves both backends; every op dispatches on it in one place
// (ops/dispatch.hpp). CUDA storage exists only when the program links the optional
// modelmix::cuda target, which defines MODELMIX_WITH_CUDA=1; without it the core contains
// no CUDA code at all and asking for device memory is a clear error.
#include <ostream>
#include <string_view>
#include <type_traits>

#ifndef MODELMIX_WITH_CUDA
#define MODELMIX_WITH_CUDA 0
#endif

namespace modelmix {

enum class device { cpu, cuda };

[[nodiscard]] constexpr const char* device_name(device d) { return d == device::cpu ? "cpu" : "cuda"; }
inline std::ostream& operator<<(std::ostream& out, device d) { return out << device_name(d); }

// Whether this program was built with the CUDA backend (a device may still be absent at run
// time: cuda::device_available() says).
inline constexpr bool cuda_built_in = MODELMIX_WITH_CUDA != 0;

template <class T>
concept Scalar = std::is_same_v<T, float> || std::is_same_v<T, double>;

}  // namespace modelmix
