// The cuDNN baseline, plain convolution: descriptors, per-shape algorithm cache, and the four
// roles. Declared in include/modelmix/ops/cudnn/conv2d.hpp. Nothing here refers to the fused
// kernels, so programs that only need cuDNN or output_dims link without them.
#include "modelmix/ops/cudnn/conv2d.hpp"

#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "modelmix/cuda/check.cuh"
#include "modelmix/cuda/runtime.hpp"
#include "cudnn_conv2d_detail.hpp"

namespace modelmix::ops::cudnn {

namespace {

int to_int(index_t v, const char* what, const conv2d_problem& pb) {
  MODELMIX_REQUIRE(v >= 0 && v <= std::numeric_limits<int>::max(), "cudnn: ", what, " = ", v,
                   " does not fit the 32-bit descriptors of cuDNN in ", pb.str());
  return static_cast<int>(v);
}

// One owner per descriptor kind, so a failure half-way through set-up leaks nothing.
template <class T, cudnnStatus_t (*Destroy)(T)>
struct owned {
  T value = nullptr;
  owned() = default;
  owned(const owned&) = delete;
  owned& operator=(const owned&) = delete;
  ~owned() {
    if (value) (void)Destroy(value);
  }
};

}  // namespace

// All descriptors of one problem: x [N,C,H,W], w [K,C,R,S], y [N,K,P,Q], bias [1,K,1,1] and the
// convolution (cross-correlation, as every modelmix backend computes, fp32, FMA math).
struct descriptors {
  owned<cudnnTensorDescriptor_t, cudnnDestroyTensorDescriptor> x, y, bias;
  owned<cudnnFilterDescriptor_t, cudnnDestroyFilterDescriptor> w;
  owned<cudnnConvolutionDescriptor_t, cudnnDestroyConvolutionDescriptor> conv;
  std::array<int, 4> out{};

  explicit descriptors(const conv2d_problem& pb) {
    pb.validate();
    const int N = to_int(pb.N, "N", pb), C = to_int(pb.C, "C", pb), H = to_int(pb.H, "H", pb),
              W = to_int(pb.W, "W", pb), K = to_int(pb.K, "K", pb), R = to_int(pb.R, "R", pb),
              S = to_int(pb.S, "S", pb);
    MODELMIX_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x.value));
    MODELMIX_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x.value, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, C, H, W));
    MODELMIX_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w.value));
    MODELMIX_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w.value, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, K, C, R, S));
    MODELMIX_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv.value));
    MODELMIX_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        conv.value, to_int(pb.pad_h, "pad_h", pb), to_int(pb.pad_w, "pad_w", pb), to_int(pb.stride_h, "stride_h", pb),
        to_int(pb.stride_w, "stride_w", pb), 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    MODELMIX_CUDNN_CHECK(cudnnSetConvolutionMathType(conv.value, CUDNN_FMA_MATH));
    MODELMIX_CUDNN_CHECK(
        cudnnGetConvolution2dForwardOutputDim(conv.value, x.value, w.value, &out[0], &out[1], &out[2], &out[3]));
    MODELMIX_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y.value));
    MODELMIX_CUDNN_CHECK(
        cudnnSetTensor4dDescriptor(y.value, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, out[0], out[1], out[2], out[3]));
    MODELMIX_CUDNN_CHECK(cudnnCreateTensorDescriptor(&bias.value));
    MODELMIX_CUDNN_CHECK(cudnnSetTensor4dDescriptor(bias.value, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, K, 1, 1));
  }
};

std::array<index_t, 4> output_dims(const conv2d_problem& problem) {
  const descriptors d(problem);
  return {d.out[0], d.out[1], d.out[2], d.out[3]};
}

cudnn_availability available() {
  cudnn_availability a;
  const modelmix::cuda::availability device = modelmix::cuda::device_available();
  if (!device.available) {
    a.reason = device.reason;
    return a;
  }
  try {
    (void)modelmix::cuda::context::current().cudnn_handle();
    a.available = true;
  } catch (const std::exception& e) {
    a.reason = e.what();
  }
  return a;
}

namespace {

// Accept an algorithm only if it does plain fp32 FMA arithmetic (never TF32 tensor cores).
template <class Perf>
bool acceptable(const Perf& p) {
  return p.status == CUDNN_STATUS_SUCCESS && p.mathType != CUDNN_TENSOR_OP_MATH &&
         p.mathType != CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

template <class Perf>
const Perf& fastest(const std::vector<Perf>& perfs, int returned, const char* what, const conv2d_problem& pb) {
  for (int i = 0; i < returned; ++i)
    if (acceptable(perfs[std::size_t(i)])) return perfs[std::size_t(i)];
  throw error(cat("cudnn: no fp32 ", what, " algorithm runs ", pb.str(), " (", returned, " candidates)"));
}

struct algorithm_choice {
  bool found = false;
  int algo = 0;
  std::size_t workspace = 0;
};

// Descriptors and chosen algorithms of one shape. Created once, never destroyed before exit
// (callers keep references), looked up under a mutex.
struct plan {
  descriptors d;
  algorithm_choice fwd, bwd_data, bwd_filter;
  explicit plan(const conv2d_problem& pb) : d(pb) {}
};

enum class role { descriptors_only, fprop, dgrad, wgrad };

using plan_key = std::tuple<index_t, index_t, index_t, index_t, index_t, index_t, index_t, index_t, index_t, index_t,
                            index_t>;

std::mutex plans_mutex;

plan& plan_for(const conv2d_problem& pb, role r, cudnnHandle_t handle) {
  static std::map<plan_key, std::unique_ptr<plan>>* plans = new std::map<plan_key, std::unique_ptr<plan>>();
  const plan_key key{pb.N, pb.C, pb.H, pb.W, pb.K, pb.R, pb.S, pb.pad_h, pb.pad_w, pb.stride_h, pb.stride_w};
  const std::lock_guard lock(plans_mutex);
  std::unique_ptr<plan>& slot = (*plans)[key];
  if (!slot) slot = std::make_unique<plan>(pb);
  plan& p = *slot;
  const descriptors& d = p.d;
  // cudnnFind…Algorithm (not …Ex) times every algorithm on buffers it allocates itself.
  if (r == role::fprop && !p.fwd.found) {
    std::vector<cudnnConvolutionFwdAlgoPerf_t> perfs(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
    int returned = 0;
    MODELMIX_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(handle, d.x.value, d.w.value, d.conv.value, d.y.value,
                                                              int(perfs.size()), &returned, perfs.data()));
    const auto& best = fastest(perfs, returned, "forward", pb);
    p.fwd = {true, int(best.algo), best.memory};
  } else if (r == role::dgrad && !p.bwd_data.found) {
    std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perfs(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
    int returned = 0;
    MODELMIX_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(handle, d.w.value, d.y.value, d.conv.value,
                                                                   d.x.value, int(perfs.size()), &returned,
                                                                   perfs.data()));
    const auto& best = fastest(perfs, returned, "backward-data", pb);
    p.bwd_data = {true, int(best.algo), best.memory};
  } else if (r == role::wgrad && !p.bwd_filter.found) {
    std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perfs(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
    int returned = 0;
    MODELMIX_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(handle, d.x.value, d.y.value, d.conv.value,
                                                                     d.w.value, int(perfs.size()), &returned,
                                                                     perfs.data()));
    const auto& best = fastest(perfs, returned, "backward-filter", pb);
    p.bwd_filter = {true, int(best.algo), best.memory};
  }
  return p;
}

cudnnHandle_t handle() { return static_cast<cudnnHandle_t>(modelmix::cuda::context::current().cudnn_handle()); }

}  // namespace

namespace detail {

void fprop(const conv2d_problem& pb, const float* x, const float* w, const float* b, float* y) {
  const cudnnHandle_t h = handle();
  plan& p = plan_for(pb, role::fprop, h);
  modelmix::cuda::context& ctx = modelmix::cuda::context::current();
  void* ws = ctx.workspace(p.fwd.workspace);
  const float one = 1.f, zero = 0.f;
  MODELMIX_CUDNN_CHECK(cudnnConvolutionForward(h, &one, p.d.x.value, x, p.d.w.value, w, p.d.conv.value,
                                               cudnnConvolutionFwdAlgo_t(p.fwd.algo), ws, ctx.workspace_size(), &zero,
                                               p.d.y.value, y));
  if (b) MODELMIX_CUDNN_CHECK(cudnnAddTensor(h, &one, p.d.bias.value, b, &one, p.d.y.value, y));
}

void dgrad(const conv2d_problem& pb, const float* dy, const float* w, float* dx, float beta) {
  const cudnnHandle_t h = handle();
  plan& p = plan_for(pb, role::dgrad, h);
  modelmix::cuda::context& ctx = modelmix::cuda::context::current();
  void* ws = ctx.workspace(p.bwd_data.workspace);
  const float one = 1.f;
  MODELMIX_CUDNN_CHECK(cudnnConvolutionBackwardData(h, &one, p.d.w.value, w, p.d.y.value, dy, p.d.conv.value,
                                                    cudnnConvolutionBwdDataAlgo_t(p.bwd_data.algo), ws,
                                                    ctx.workspace_size(), &beta, p.d.x.value, dx));
}

void wgrad(const conv2d_problem& pb, const float* x, const float* dy, float* dw, float beta) {
  const cudnnHandle_t h = handle();
  plan& p = plan_for(pb, role::wgrad, h);
  modelmix::cuda::context& ctx = modelmix::cuda::context::current();
  void* ws = ctx.workspace(p.bwd_filter.workspace);
  const float one = 1.f;
  MODELMIX_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, &one, p.d.x.value, x, p.d.y.value, dy, p.d.conv.value,
                                                      cudnnConvolutionBwdFilterAlgo_t(p.bwd_filter.algo), ws,
                                                      ctx.workspace_size(), &beta, p.d.w.value, dw));
}

void bgrad(const conv2d_problem& pb, const float* dy, float* db, float beta) {
  const cudnnHandle_t h = handle();
  plan& p = plan_for(pb, role::descriptors_only, h);
  const float one = 1.f;
  MODELMIX_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, &one, p.d.y.value, dy, &beta, p.d.bias.value, db));
}

}  // namespace detail

void conv2d_fprop(const conv2d_problem& pb, const float* x, const float* weight, const float* bias, float* y) {
  detail::fprop(pb, x, weight, bias, y);
}
void conv2d_dgrad(const conv2d_problem& pb, const float* dy, const float* weight, float* dx) {
  detail::dgrad(pb, dy, weight, dx, 1.f);
}
void conv2d_wgrad(const conv2d_problem& pb, const float* x, const float* dy, float* grad_weight) {
  detail::wgrad(pb, x, dy, grad_weight, 1.f);
}
void conv2d_bgrad(const conv2d_problem& pb, const float* dy, float* grad_bias) { detail::bgrad(pb, dy, grad_bias, 1.f); }

}  // namespace modelmix::ops::cudnn
