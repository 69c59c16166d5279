// The emulated CUDA device of the tests: the modelmix::cuda runtime with host memory, and the
// same float launches as src/cuda/*.cu with the CPU grid emulator's launch in place of
// <<<...>>>. A program that links modelmix_cuda_emu instead of modelmix::cuda runs every device
// op on the emulator (MODELMIX_WITH_CUDA=1): tensors .to(device::cuda) live in host memory that
// only kernels and the runtime's copies touch, so an op's whole device path — dispatch, launch
// code, kernel bodies, the tape's device gradient slots — is checked against the CPU without a GPU.
//
// Device allocations are filled with NaN bytes, as a kernel reading memory nobody wrote would
// see garbage on a GPU; so is the workspace whenever it grows. cuDNN is not emulated: its
// functions (the convolution chain's fallback for problems the fused kernels refuse) throw.
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/cuda/runtime.hpp"
#include "modelmix/ops/cudnn/conv2d.hpp"
#include "cuda/allocation_table.hpp"
#include "support/grid_emu.hpp"

namespace modelmix::cuda {

availability device_available() { return {true, "", 1, "CPU grid emulator (tests)"}; }

namespace {
constexpr std::align_val_t device_alignment{256};  // what cudaMalloc guarantees
}

// Counted in the runtime's allocation table, as on a GPU.
void* allocate(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  void* p = ::operator new(bytes, device_alignment);
  std::memset(p, 0xff, bytes);  // 0xffffffff is a NaN
  detail::allocation_table::instance().add(p, bytes, nullptr);
  return p;
}
void deallocate(void* p) noexcept {
  if (!p) return;
  (void)detail::allocation_table::instance().remove(p);
  ::operator delete(p, device_alignment);
}
memory_stats device_memory() { return detail::allocation_table::instance().stats(); }
void reset_device_peak() { detail::allocation_table::instance().reset_peak(); }
void copy_to_device(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }
void copy_to_host(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }
void copy_on_device(void* dst, const void* src, std::size_t bytes) { std::memmove(dst, src, bytes); }
void fill_zero(void* dst, std::size_t bytes) { std::memset(dst, 0, bytes); }

struct context::impl {
  void* workspace = nullptr;  // from allocate(), so it is counted as on a GPU
  std::size_t workspace_bytes = 0;
};
context& context::current() {
  thread_local context c;
  return c;
}
context::context() : impl_(new impl) {}
context::~context() {
  deallocate(impl_->workspace);
  delete impl_;
}
void* context::stream() const { return nullptr; }  // launches run synchronously
void* context::cudnn_handle() { throw error("the emulated CUDA device has no cuDNN"); }
void* context::workspace(std::size_t bytes) {
  if (impl_->workspace_bytes < bytes) {
    deallocate(impl_->workspace);
    impl_->workspace = nullptr;
    impl_->workspace_bytes = 0;
    impl_->workspace = allocate(bytes);  // NaN-filled: a GPU's workspace holds whatever was there
    impl_->workspace_bytes = bytes;
  }
  return impl_->workspace;
}
std::size_t context::workspace_size() const { return impl_->workspace_bytes; }
void context::synchronize() const {}

}  // namespace modelmix::cuda

namespace modelmix::ops::cudnn {

namespace {
[[noreturn]] void no_cudnn(const char* op) {
  throw error(cat(op, ": the emulated CUDA device has no cuDNN (a problem the fused kernels refuse)"));
}
}  // namespace

void conv2d_fprop(const conv2d_problem&, const float*, const float*, const float*, float*) { no_cudnn("cudnn::conv2d_fprop"); }
void conv2d_dgrad(const conv2d_problem&, const float*, const float*, float*) { no_cudnn("cudnn::conv2d_dgrad"); }
void conv2d_wgrad(const conv2d_problem&, const float*, const float*, float*) { no_cudnn("cudnn::conv2d_wgrad"); }
void conv2d_bgrad(const conv2d_problem&, const float*, float*) { no_cudnn("cudnn::conv2d_bgrad"); }
void split_gradient(const mixing::spec<float>&, const float*, const float*) { no_cudnn("cudnn::split_gradient"); }

}  // namespace modelmix::ops::cudnn

namespace modelmix::ops::cuda {

// The launch the launch files are written against (ops/cuda/launch.cuh on the GPU). Kernels
// without shared memory have no barriers and run one thread after another (the grid
// emulator's cheap path); the others get an OS thread per CUDA thread and checked barriers.
template <class Smem = no_shared, class Kernel>
void launch(const char*, idx3 grid, idx3 block, const Kernel& kernel) {
  if constexpr (std::is_same_v<Smem, no_shared>)
    test::emu::launch_sequential(grid, block, [&](const test::emu::ctx& c, no_shared& sm) { kernel(c, sm); });
  else
    test::emu::launch<Smem>(grid, block, [&](const test::emu::ctx& c, Smem& sm) { kernel(c, sm); });
}

}  // namespace modelmix::ops::cuda

#include "cuda/elementwise_launch.inl"
#include "cuda/pooling_launch.inl"
#include "cuda/upsample_launch.inl"
#include "cuda/concat_launch.inl"
#include "cuda/softmax_launch.inl"
#include "cuda/dropout_launch.inl"
#include "cuda/mixed_conv2d_launch.inl"
#include "cuda/optim_launch.inl"
#include "cuda/geometry_launch.inl"
#include "cuda/mixup_launch.inl"
#include "cuda/losses_launch.inl"
#include "cuda/batch_norm_launch.inl"
#include "cuda/combine_launch.inl"
#include "cuda/channel_bias_launch.inl"
