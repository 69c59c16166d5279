// The float launches of ops/cuda/elementwise.hpp, written once against
// launch<Smem>(name, grid, block, kernel) — which the including translation unit provides:
// ops/cuda/launch.cuh in src/cuda/elementwise.cu (the GPU), the CPU grid emulator in
// tests/support/emu_device.cpp (the emulated device of the tests). Include it once per library.

#include "modelmix/core/error.hpp"
#include "modelmix/ops/cuda/kernel_count.hpp"
#include "modelmix/ops/cuda/elementwise.cuh"

namespace modelmix::ops::cuda {
namespace {

const char* name_of(elementwise_op op) {
  switch (op) {
    case elementwise_op::axpy: return "axpy";
    case elementwise_op::add_constant: return "add_constant";
    case elementwise_op::add: return "add";
    case elementwise_op::sub: return "sub";
    case elementwise_op::mul: return "mul";
    case elementwise_op::mul_backward: return "mul_backward";
    case elementwise_op::scale: return "scale";
    case elementwise_op::add_scalar: return "add_scalar";
    case elementwise_op::log: return "log";
    case elementwise_op::log_backward: return "log_backward";
    case elementwise_op::relu: return "relu";
    case elementwise_op::relu_backward: return "relu_backward";
  }
  return "elementwise";
}

}  // namespace

void elementwise(const elementwise_args& a) {
  const char* op = name_of(a.op);
  const int n = kernel_count(op, {a.n});
  if (n == 0) return;
  launch<no_shared>(op, elementwise_grid(n), {elementwise_threads, 1, 1},
                    elementwise_kernel{a.op, a.s, a.a, a.b, a.y, n, a.assign});
}

void sum(const float* x, index_t n, double divisor, float* out) {
  launch<sum_kernel::smem>("sum", {1, 1, 1}, {sum_threads, 1, 1}, sum_kernel{x, kernel_count("sum", {n}), divisor, out});
}

void add_broadcast(const float* g, double factor, float* d, index_t n) {
  const int count = kernel_count("add_broadcast", {n});
  if (count == 0) return;
  launch<no_shared>("add_broadcast", elementwise_grid(count), {elementwise_threads, 1, 1},
                    add_broadcast_kernel{g, factor, d, count});
}

}  // namespace modelmix::ops::cuda
