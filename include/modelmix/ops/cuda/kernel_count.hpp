#pragma once
// The one 32-bit check of the CUDA launch code. Kernels index with int (CUDA.md rule 7), so a
// launch first turns the extents of what it will index into an int element count, refusing by
// the op's name anything negative or past INT_MAX instead of letting the product wrap.
//
//   const int n = kernel_count("softmax_channels", {N, C, S});   // N·C·S, or an error
//
// Plain C++ (no CUDA headers): the launch files include it under nvcc and under the emulator.
#include <climits>
#include <initializer_list>

#include "modelmix/core/error.hpp"
#include "modelmix/core/shape.hpp"

namespace modelmix::ops::cuda {

inline int kernel_count(const char* op, std::initializer_list<index_t> extents) {
  index_t count = 1;
  bool zero = false;
  for (const index_t e : extents) {
    MODELMIX_REQUIRE(e >= 0, op, ": negative extent ", e, " for a CUDA kernel");
    zero = zero || e == 0;
  }
  if (zero) return 0;  // an empty tensor fits whatever its other extents are
  for (const index_t e : extents) {
    MODELMIX_REQUIRE(count <= index_t(INT_MAX) / e, op, ": ", count, "×", e, "… elements exceed the CUDA kernels' ",
                     "32-bit indices (at most ", INT_MAX, ")");
    count *= e;
  }
  return int(count);
}

}  // namespace modelmix::ops::cuda
