// Mixed conv2d on U-Net layer shapes: fused (2-term spec) vs naive (materialize W, then the
// plain convolution) vs plain (one unmixed parent), forward and forward+backward.
// GFLOP/s come from conv2d_problem::fprop_flops(): 1× for forward, 3× for forward+backward
// (fprop + dgrad + wgrad). Backward writes gradients into both parents' weights and biases.
//
// Two families, same problems:
//   conv2d_fwd/<variant>/<shape>, conv2d_fwd_bwd/<variant>/<shape>
//       one variant per benchmark, the usual Google Benchmark timing (mean over iterations).
//   conv2d_fwd_paired/<shape>, conv2d_fwd_bwd_paired/<shape>
//       every iteration runs fused, naive and plain back to back (rotating the order) and
//       times each call. Counters: each variant's GFLOP/s from its fastest call, and the
//       median over iterations of the paired speed ratios fused/plain and fused/naive.
//       On a machine shared with other work the pairs see the same load, so these ratios
//       stay meaningful when the per-variant means do not.
//
//   conv2d_role/<role>/<shape>
//       fprop, dgrad and wgrad alone, plain layer, on the levels of a width-32 U-Net.
//
//   OMP_NUM_THREADS=2 ./bench_conv2d --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <vector>

#include "modelmix/ops/cpu/conv2d.hpp"
#include "modelmix/ops/cpu/conv2d_naive.hpp"
#include "modelmix/tensor/tensor.hpp"

using namespace modelmix;
using ops::conv2d_problem;


namespace {

enum class variant { fused, naive, plain };
constexpr std::array<variant, 3> variants = {variant::fused, variant::naive, variant::plain};
const char* variant_name(variant v) { return v == variant::fused ? "fused" : v == variant::naive ? "naive" : "plain"; }

// Parents and their gradients; values are arbitrary but fixed (no denormals). The plain
// variant has one parent with coefficient 1, the others two with 0.3 and 0.7.
struct parents {
  std::vector<Tensor<float>> weight, bias, grad_weight, grad_bias;
  mixing::spec<float> spec;
  parents(const conv2d_problem& pb, variant v) {
    const std::vector<float> coeffs = v == variant::plain ? std::vector<float>{1.f} : std::vector<float>{0.3f, 0.7f};
    spec.weight_numel = pb.K * pb.gemm_k();
    spec.bias_numel = pb.K;
    for (std::size_t i = 0; i < coeffs.size(); ++i) {
      weight.emplace_back(pb.filter_shape(), 0.01f * float(i + 1));
      bias.emplace_back(pb.bias_shape(), 0.1f);
      grad_weight.emplace_back(pb.filter_shape());
      grad_bias.emplace_back(pb.bias_shape());
    }
    for (std::size_t i = 0; i < coeffs.size(); ++i)
      spec.terms.push_back({weight[i].data(), bias[i].data(), coeffs[i], grad_weight[i].data(), grad_bias[i].data(), nullptr});
  }
};

struct buffers {
  Tensor<float> x, dy, y, dx;
  explicit buffers(const conv2d_problem& pb)
      : x(pb.input_shape(), 0.5f), dy(pb.output_shape(), 0.25f), y(pb.output_shape()), dx(pb.input_shape()) {}
};

// One forward (and backward) step of one variant.
void step(const conv2d_problem& pb, variant v, const mixing::spec<float>& spec, buffers& b, bool backward) {
  if (v == variant::naive) {
    ops::cpu::conv2d_fprop_naive(pb, b.x.data(), b.y.data(), spec);
    if (backward) {
      ops::cpu::conv2d_dgrad_naive(pb, b.dy.data(), b.dx.data(), spec);
      ops::cpu::conv2d_wgrad_naive(pb, b.x.data(), b.dy.data(), spec);
    }
  } else {
    ops::cpu::conv2d_fprop(pb, b.x.data(), b.y.data(), spec);
    if (backward) {
      ops::cpu::conv2d_dgrad(pb, b.dy.data(), b.dx.data(), spec);
      ops::cpu::conv2d_wgrad(pb, b.x.data(), b.dy.data(), spec);
    }
  }
  benchmark::DoNotOptimize(b.y.data());
  benchmark::DoNotOptimize(b.dx.data());
  benchmark::ClobberMemory();
}

double step_flops(const conv2d_problem& pb, bool backward) { return pb.fprop_flops() * (backward ? 3.0 : 1.0); }

void run_single(benchmark::State& state, const conv2d_problem& pb, variant v, bool backward) {
  const parents p(pb, v);
  buffers b(pb);
  for (auto _ : state) step(pb, v, p.spec, b, backward);
  state.counters["GFLOP/s"] =
      benchmark::Counter(step_flops(pb, backward) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

void run_paired(benchmark::State& state, const conv2d_problem& pb, bool backward) {
  const std::array<parents, 3> p = {parents(pb, variant::fused), parents(pb, variant::naive), parents(pb, variant::plain)};
  buffers b(pb);
  std::array<std::vector<double>, 3> seconds;
  std::size_t rotation = 0;
  for (auto _ : state) {
    for (std::size_t j = 0; j < 3; ++j) {
      const std::size_t v = (rotation + j) % 3;
      const auto start = std::chrono::steady_clock::now();
      step(pb, variants[v], p[v].spec, b, backward);
      seconds[v].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    ++rotation;
  }
  std::vector<double> vs_plain, vs_naive;
  for (std::size_t i = 0; i < seconds[0].size(); ++i) {
    vs_plain.push_back(seconds[2][i] / seconds[0][i]);
    vs_naive.push_back(seconds[1][i] / seconds[0][i]);
  }
  for (std::size_t v = 0; v < 3; ++v)
    state.counters[cat(variant_name(variants[v]), " GFLOP/s")] =
        step_flops(pb, backward) * 1e-9 / *std::min_element(seconds[v].begin(), seconds[v].end());
  state.counters["fused/plain"] = median(vs_plain);
  state.counters["fused/naive"] = median(vs_naive);
}

// "<family>/[<variant>/]N<batch>_C<width>_<size>"; built with cat() (a chain of std::string
// operator+ trips a false -Wrestrict in GCC 12).
std::string benchmark_name(const std::string& family, const char* variant, const conv2d_problem& pb) {
  return cat(family, "/", variant, variant[0] ? "/" : "", "N", pb.N, "_C", pb.C, "_", pb.H);
}

enum class role { fprop, dgrad, wgrad };
const char* role_name(role r) { return r == role::fprop ? "fprop" : r == role::dgrad ? "dgrad" : "wgrad"; }

// One role of the plain layer alone: which path each takes differs (the direct kernel takes
// fprop and dgrad of stride-1 layers at least a vector wide; wgrad and narrower layers are GEMMs).
void run_role(benchmark::State& state, const conv2d_problem& pb, role r) {
  const parents p(pb, variant::plain);
  buffers b(pb);
  for (auto _ : state) {
    if (r == role::fprop) ops::cpu::conv2d_fprop(pb, b.x.data(), b.y.data(), p.spec);
    if (r == role::dgrad) ops::cpu::conv2d_dgrad(pb, b.dy.data(), b.dx.data(), p.spec);
    if (r == role::wgrad) ops::cpu::conv2d_wgrad(pb, b.x.data(), b.dy.data(), p.spec);
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(pb.fprop_flops() * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// U-Net layers: 3×3, padding 1, C = K = width. The variants of one problem are registered
// next to each other so they see similar machine states.
void register_all() {
  // conv2d_role/<role>/N4_C<c>_<size>: the second conv of each level of a width-32, depth-5
  // U-Net at 128² (every level does the same FLOPs, so the deep ones matter as much).
  for (index_t level = 0; level < 5; ++level) {
    const conv2d_problem pb{4, 32 << level, 128 >> level, 128 >> level, 32 << level, 3, 3, 1, 1, 1, 1};
    for (role r : {role::fprop, role::dgrad, role::wgrad})
      benchmark::RegisterBenchmark(benchmark_name(cat("conv2d_role/", role_name(r)), "", pb).c_str(),
                                   [pb, r](benchmark::State& s) { run_role(s, pb, r); })
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  }

  std::vector<conv2d_problem> problems;
  for (index_t batch : {4, 8})
    for (index_t size : {128, 192})
      for (index_t width : {16, 32, 64}) problems.push_back({batch, width, size, size, width, 3, 3, 1, 1, 1, 1});

  for (bool backward : {false, true}) {
    const std::string mode = backward ? "conv2d_fwd_bwd" : "conv2d_fwd";
    for (const conv2d_problem& pb : problems)
      for (variant v : variants)
        benchmark::RegisterBenchmark(benchmark_name(mode, variant_name(v), pb).c_str(),
                                     [pb, v, backward](benchmark::State& s) { run_single(s, pb, v, backward); })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
  }
  for (bool backward : {false, true}) {
    const std::string mode = backward ? "conv2d_fwd_bwd_paired" : "conv2d_fwd_paired";
    for (const conv2d_problem& pb : problems) {
      // About 4 s of paired calls at ~150 GFLOP/s, at least 20 pairs.
      const double flops = 3 * step_flops(pb, backward);
      const auto iterations = static_cast<benchmark::IterationCount>(std::clamp(6e11 / flops, 20.0, 300.0));
      benchmark::RegisterBenchmark(benchmark_name(mode, "", pb).c_str(),
                                   [pb, backward](benchmark::State& s) { run_paired(s, pb, backward); })
          ->Iterations(iterations)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
