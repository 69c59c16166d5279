// Mixed conv2d on a CUDA device, U-Net layer shapes at width 64: the fused kernels against
// their baselines in one binary, timed with CUDA events (manual time, GPU time only).
//
//   variant         forward                                   backward (dgrad + wgrad)
//   fused           ops::cuda, 2-term spec                    ops::cuda, gradients into both parents
//   naive_fused     materialize W, b; ops::cuda, 1-term spec  materialize; 1-term dgrad; 1-term wgrad
//                                                             into dW, db scratch; split_gradient
//   naive_cudnn     materialize W, b; cuDNN                   cudnn::conv2d_{dgrad,wgrad}_naive
//   plain_cudnn     cuDNN, one unmixed parent                 cuDNN backward data/filter/bias
//
// cuDNN runs fp32 with CUDNN_FMA_MATH (no TF32), algorithms chosen once per shape by
// cudnnFind…Algorithm (outside the timed region). TFLOP/s come from conv2d_problem::fprop_flops():
// 1× for forward, 3× for forward+backward.
//
// Families:
//   cuda_conv2d_{fwd,fwd_bwd}/<variant>/<shape>      one variant, manual time = event time
//   cuda_conv2d_{fwd,fwd_bwd}_paired/<shape>         every iteration runs the four variants back
//       to back (rotating the order), each timed by its own events. Counters: each variant's
//       TFLOP/s from its median time, and the medians of the paired speed ratios
//       fused/plain_cudnn (= t_plain_cudnn / t_fused, > 1: fused faster), fused/naive_cudnn,
//       fused/naive_fused.
//
// Without a usable device it prints "MODELMIX_SKIP: no CUDA device: <reason>" and exits 0.
//
//   ./bench_cuda_conv2d --benchmark_filter=paired --benchmark_min_time=0.1
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "modelmix/cuda/device_buffer.hpp"
#include "modelmix/cuda/runtime.hpp"
#include "modelmix/mixing/spec.hpp"
#include "modelmix/ops/conv2d_problem.hpp"
#include "modelmix/ops/cuda/conv2d.hpp"
#include "modelmix/ops/cudnn/conv2d.hpp"

using namespace modelmix;
using modelmix::cuda::device_buffer;
using ops::conv2d_problem;

namespace {

enum class variant { fused, naive_fused, naive_cudnn, plain_cudnn };
constexpr std::array<variant, 4> variants = {variant::fused, variant::naive_fused, variant::naive_cudnn,
                                             variant::plain_cudnn};
const char* variant_name(variant v) {
  switch (v) {
    case variant::fused: return "fused";
    case variant::naive_fused: return "naive_fused";
    case variant::naive_cudnn: return "naive_cudnn";
    default: return "plain_cudnn";
  }
}
bool uses_cudnn(variant v) { return v == variant::naive_cudnn || v == variant::plain_cudnn; }

void check(cudaError_t s, const char* what) {
  if (s != cudaSuccess) throw error(cat(what, " failed: ", cudaGetErrorString(s), " (", int(s), ")"));
}

cudaStream_t stream() { return static_cast<cudaStream_t>(modelmix::cuda::context::current().stream()); }

struct event_pair {
  cudaEvent_t start = nullptr, stop = nullptr;
  event_pair() {
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
  }
  ~event_pair() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
  event_pair(const event_pair&) = delete;
  event_pair& operator=(const event_pair&) = delete;
  template <class F>
  double time(F&& f) {  // seconds of GPU time for the work f queues on the context stream
    check(cudaEventRecord(start, stream()), "cudaEventRecord");
    f();
    check(cudaEventRecord(stop, stream()), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    return double(ms) * 1e-3;
  }
};

// Arbitrary fixed values in [-0.5, 0.5) (no denormals), scaled.
device_buffer<float> filled(std::size_t n, float scale, unsigned salt) {
  std::vector<float> h(n);
  for (std::size_t j = 0; j < n; ++j) h[j] = scale * (float((j * 7919u + salt * 104729u) % 1000u) / 1000.f - 0.5f);
  return device_buffer<float>::from_host(h);
}

// Device buffers of one problem, kept while the benchmarks of that problem run (they are
// registered next to each other), replaced when the next problem starts.
struct problem_data {
  conv2d_problem pb;
  device_buffer<float> x, dy, y, dx;
  std::array<device_buffer<float>, 2> weight, bias, grad_weight, grad_bias;
  device_buffer<float> mixed_weight, mixed_bias, full_grad_weight, full_grad_bias;  // naive_fused scratch
  mixing::spec<float> two;    // 0.3·W_0 + 0.7·W_1, gradients into both parents
  mixing::spec<float> plain;  // W_0 alone

  explicit problem_data(const conv2d_problem& p) : pb(p) {
    const auto nx = std::size_t(pb.N * pb.C * pb.H * pb.W), ny = std::size_t(pb.N * pb.K * pb.P() * pb.Q());
    const auto nw = std::size_t(pb.K * pb.gemm_k()), nb = std::size_t(pb.K);
    x = filled(nx, 1.f, 1);
    dy = filled(ny, 1.f, 2);
    y = device_buffer<float>(ny);
    dx = device_buffer<float>(nx);
    dx.zero();
    for (unsigned i = 0; i < 2; ++i) {
      weight[i] = filled(nw, 0.1f, 3 + i);
      bias[i] = filled(nb, 0.1f, 5 + i);
      grad_weight[i] = device_buffer<float>(nw);
      grad_weight[i].zero();
      grad_bias[i] = device_buffer<float>(nb);
      grad_bias[i].zero();
    }
    mixed_weight = device_buffer<float>(nw);
    mixed_bias = device_buffer<float>(nb);
    full_grad_weight = device_buffer<float>(nw);
    full_grad_bias = device_buffer<float>(nb);
    two.weight_numel = plain.weight_numel = index_t(nw);
    two.bias_numel = plain.bias_numel = index_t(nb);
    const float coeff[2] = {0.3f, 0.7f};
    for (int i = 0; i < 2; ++i)
      two.terms.push_back({weight[i].data(), bias[i].data(), coeff[i], grad_weight[i].data(), grad_bias[i].data(), nullptr});
    plain.terms.push_back({weight[0].data(), bias[0].data(), 1.f, grad_weight[0].data(), grad_bias[0].data(), nullptr});
    modelmix::cuda::context::current().synchronize();
  }

  // The materialized 1-term spec of naive_fused: forward reads W, b; backward writes dW, db.
  [[nodiscard]] mixing::spec<float> materialized() {
    mixing::spec<float> s;
    s.weight_numel = two.weight_numel;
    s.bias_numel = two.bias_numel;
    s.terms.push_back({mixed_weight.data(), mixed_bias.data(), 1.f, full_grad_weight.data(), full_grad_bias.data(), nullptr});
    return s;
  }
};

problem_data& data_for(const conv2d_problem& pb) {
  static std::unique_ptr<problem_data> current;
  if (!current || !(current->pb == pb)) {
    current.reset();  // free the previous problem's buffers first
    current = std::make_unique<problem_data>(pb);
  }
  return *current;
}

// One forward (and backward) step of one variant, queued on the context stream.
void step(problem_data& d, variant v, bool backward) {
  const conv2d_problem& pb = d.pb;
  switch (v) {
    case variant::fused:
      ops::cuda::conv2d_fprop(pb, d.x.data(), d.y.data(), d.two);
      if (backward) {
        ops::cuda::conv2d_dgrad(pb, d.dy.data(), d.dx.data(), d.two);
        ops::cuda::conv2d_wgrad(pb, d.x.data(), d.dy.data(), d.two);
      }
      break;
    case variant::naive_fused: {
      const mixing::spec<float> one = d.materialized();
      ops::cuda::materialize(d.two, d.mixed_weight.data(), d.mixed_bias.data());
      ops::cuda::conv2d_fprop(pb, d.x.data(), d.y.data(), one);
      if (backward) {
        ops::cuda::materialize(d.two, d.mixed_weight.data(), d.mixed_bias.data());
        ops::cuda::conv2d_dgrad(pb, d.dy.data(), d.dx.data(), one);
        d.full_grad_weight.zero();
        d.full_grad_bias.zero();
        ops::cuda::conv2d_wgrad(pb, d.x.data(), d.dy.data(), one);
        ops::cudnn::split_gradient(d.two, d.full_grad_weight.data(), d.full_grad_bias.data());
      }
      break;
    }
    case variant::naive_cudnn:
      ops::cudnn::conv2d_fprop_naive(pb, d.x.data(), d.y.data(), d.two);
      if (backward) {
        ops::cudnn::conv2d_dgrad_naive(pb, d.dy.data(), d.dx.data(), d.two);
        ops::cudnn::conv2d_wgrad_naive(pb, d.x.data(), d.dy.data(), d.two);
      }
      break;
    case variant::plain_cudnn:
      ops::cudnn::conv2d_fprop(pb, d.x.data(), d.weight[0].data(), d.bias[0].data(), d.y.data());
      if (backward) {
        ops::cudnn::conv2d_dgrad(pb, d.dy.data(), d.weight[0].data(), d.dx.data());
        ops::cudnn::conv2d_wgrad(pb, d.x.data(), d.dy.data(), d.grad_weight[0].data());
        ops::cudnn::conv2d_bgrad(pb, d.dy.data(), d.grad_bias[0].data());
      }
      break;
  }
}

double step_flops(const conv2d_problem& pb, bool backward) { return pb.fprop_flops() * (backward ? 3.0 : 1.0); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

bool fused_takes(problem_data& d) {
  mixing::spec<float> one = d.materialized();
  return ops::cuda::can_implement(d.pb, d.two) && ops::cuda::can_implement(d.pb, one);
}

// Warm-up outside the timed region: cuDNN algorithm search, scratch allocation, module load.
void warm_up(problem_data& d, variant v, bool backward) {
  step(d, v, backward);
  modelmix::cuda::context::current().synchronize();
}

void run_single(benchmark::State& state, const conv2d_problem& pb, variant v, bool backward) {
  try {
    problem_data& d = data_for(pb);
    if (v != variant::plain_cudnn && !fused_takes(d)) {
      state.SkipWithError("the fused kernels refuse this problem");
      return;
    }
    warm_up(d, v, backward);
    event_pair events;
    for (auto _ : state) state.SetIterationTime(events.time([&] { step(d, v, backward); }));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  state.counters["TFLOP/s"] =
      benchmark::Counter(step_flops(pb, backward) * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

void run_paired(benchmark::State& state, const conv2d_problem& pb, bool backward) {
  std::array<std::vector<double>, 4> seconds;
  try {
    problem_data& d = data_for(pb);
    if (!fused_takes(d)) {
      state.SkipWithError("the fused kernels refuse this problem");
      return;
    }
    for (variant v : variants) warm_up(d, v, backward);
    event_pair events;
    std::size_t rotation = 0;
    for (auto _ : state) {
      double total = 0;
      for (std::size_t j = 0; j < variants.size(); ++j) {
        const std::size_t v = (rotation + j) % variants.size();
        const double s = events.time([&] { step(d, variants[v], backward); });
        seconds[v].push_back(s);
        total += s;
      }
      state.SetIterationTime(total);
      ++rotation;
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const double flops = step_flops(pb, backward);
  for (std::size_t v = 0; v < variants.size(); ++v)
    state.counters[cat(variant_name(variants[v]), " TFLOP/s")] = flops * 1e-12 / median(seconds[v]);
  auto ratio = [&](std::size_t other) {
    std::vector<double> r;
    for (std::size_t i = 0; i < seconds[0].size(); ++i) r.push_back(seconds[other][i] / seconds[0][i]);
    return median(r);
  };
  state.counters["fused/plain_cudnn"] = ratio(3);
  state.counters["fused/naive_cudnn"] = ratio(2);
  state.counters["fused/naive_fused"] = ratio(1);
}

// "N<batch>_C<C>_K<K>_<H>[_1x1]"
std::string shape_name(const conv2d_problem& pb) {
  return cat("N", pb.N, "_C", pb.C, "_K", pb.K, "_", pb.H, pb.R == 1 && pb.S == 1 ? "_1x1" : "");
}

// U-Net at width 64: 3×3 pad 1 convolutions with C = K = 64·2^l at 256/2^l for l = 0..4, and
// the 1×1 head (64 → 4 classes) at full resolution; batch 8 and 16.
std::vector<conv2d_problem> unet_problems() {
  std::vector<conv2d_problem> problems;
  for (index_t batch : {8, 16}) {
    for (index_t level = 0; level < 5; ++level) {
      const index_t width = index_t(64) << level, size = index_t(256) >> level;
      problems.push_back({batch, width, size, size, width, 3, 3, 1, 1, 1, 1});
    }
    problems.push_back({batch, 64, 256, 256, 4, 1, 1, 0, 0, 1, 1});
  }
  return problems;
}

void register_all(bool with_cudnn) {
  // Per problem: both modes of the paired family, then the single variants, so a problem's
  // buffers are created once.
  for (const conv2d_problem& pb : unet_problems()) {
    for (bool backward : {false, true}) {
      const std::string mode = backward ? "cuda_conv2d_fwd_bwd" : "cuda_conv2d_fwd";
      if (with_cudnn)
        benchmark::RegisterBenchmark(cat(mode, "_paired/", shape_name(pb)).c_str(),
                                     [pb, backward](benchmark::State& s) { run_paired(s, pb, backward); })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      for (variant v : variants) {
        if (uses_cudnn(v) && !with_cudnn) continue;
        benchmark::RegisterBenchmark(cat(mode, "/", variant_name(v), "/", shape_name(pb)).c_str(),
                                     [pb, v, backward](benchmark::State& s) { run_single(s, pb, v, backward); })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const modelmix::cuda::availability device = modelmix::cuda::device_available();
  if (!device.available) {
    std::printf("MODELMIX_SKIP: no CUDA device: %s\n", device.reason.c_str());
    return 0;
  }
  std::printf("device: %s\n", device.device_name.c_str());
  const auto cudnn = ops::cudnn::available();
  if (!cudnn.available)
    std::printf("cuDNN not usable (%s): the naive_cudnn, plain_cudnn and paired benchmarks are off\n",
                cudnn.reason.c_str());
  register_all(cudnn.available);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
