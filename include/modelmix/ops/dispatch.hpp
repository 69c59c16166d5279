#pragma once
// The one dispatch point of every op.
//
// A Var-level op (ops/<op>.hpp) checks its arguments, allocates its result on the device of
// its inputs, and reaches a backend only through run_on: once for its forward and once inside
// its backward closure. Backends are folders of plain functions over raw pointers and
// extents — ops/cpu/ (OpenMP loops, Eigen GEMM), ops/cuda/ (kernel launches, in the optional
// modelmix::cuda target) — so the CPU code path is exactly the loops it always was.
//
//   const device where = device_of("relu", {x.value()});
//   Tensor<T> y = Tensor<T>::empty(x.shape(), where);
//   run_on("relu", where, [&] { cpu::relu(x.value().data(), y.data(), y.numel()); });
//
// An op whose CUDA kernel does not exist yet passes no CUDA branch and refuses device inputs
// with a message that names it; adding the kernel means adding the second lambda here, in
// one place — written with MODELMIX_CUDA_FLOAT, which compiles the launch only where it can
// link and run:
//
//   run_on("relu", where, [&] { cpu::relu(x, y, n); },
//          MODELMIX_CUDA_FLOAT(T, "relu", cuda::elementwise({.op = cuda::elementwise_op::relu, ...})));
//
// The CUDA kernels are built for float (the modelmix::cuda target, or the tests' emulated
// device); without CUDA the branch is an error naming the op.
#include <initializer_list>
#include <type_traits>

#include "modelmix/core/device.hpp"
#include "modelmix/tensor/device_memory.hpp"
#include "modelmix/tensor/tensor.hpp"

namespace modelmix::ops {

struct no_cuda_kernel {};

[[noreturn]] inline void cuda_float_only(const char* op) {
  throw error(cat(op, ": the CUDA kernels are built for float tensors; convert the tensors or run on the CPU"));
}

// The CUDA branch of run_on: `launch...` (statements) for T = float in builds with CUDA.
#if MODELMIX_WITH_CUDA
#define MODELMIX_CUDA_FLOAT(T, op, ...)                   \
  [&] {                                                   \
    if constexpr (std::is_same_v<T, float>) {             \
      __VA_ARGS__;                                        \
    } else {                                              \
      ::modelmix::ops::cuda_float_only(op);               \
    }                                                     \
  }
#else
#define MODELMIX_CUDA_FLOAT(T, op, ...) [&] { ::modelmix::detail::no_cuda(op); }
#endif

// A tensor's device, taken implicitly so that device_of reads {a.value(), b.value()}.
struct located {
  device where;
  template <class T>
  located(const Tensor<T>& t) : where(t.where()) {}  // NOLINT: implicit by design
};

// The device an op runs on: that of its inputs, which must all agree.
[[nodiscard]] inline device device_of(const char* op, std::initializer_list<located> inputs) {
  MODELMIX_REQUIRE(inputs.size() > 0, op, ": no inputs");
  const device where = inputs.begin()->where;
  for (const located& t : inputs)
    MODELMIX_REQUIRE(t.where == where, op, ": inputs live on different devices (", where, " and ", t.where,
                     "); move them with Tensor::to() first");
  return where;
}

template <class OnCpu, class OnCuda = no_cuda_kernel>
decltype(auto) run_on(const char* op, device where, OnCpu&& on_cpu, OnCuda&& on_cuda = {}) {
  if (where == device::cpu) return on_cpu();
  if constexpr (std::is_same_v<std::remove_cvref_t<OnCuda>, no_cuda_kernel>) {
    throw error(cat(op, ": no CUDA kernel for this op yet; copy its inputs to the host with to_host()"));
  } else {
    return on_cuda();
  }
}

}  // namespace modelmix::ops
