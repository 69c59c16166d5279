// Mixed conv2d on U-Net layer shapes: fused (2-term spec) vs naive (materialize W, then the
// plain convolution) vs plain (one unmixed parent), forward and forward+backward.
// GFLOP/s come from conv2d_problem::fprop_flops(): 1× for forward, 3× for forward+backward
// (fprop + dgrad + wgrad). Backward writes gradients into both parents' weights and biases.
//
//   OMP_NUM_THREADS=2 ./bench_conv2d --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "modelmix/ops/cpu/conv2d.hpp"
#include "modelmix/ops/cpu/conv2d_naive.hpp"
#include "modelmix/tensor/tensor.hpp"

using namespace modelmix;
using ops::conv2d_problem;
using ops::mix_spec;

namespace {

enum class variant { fused, naive, plain };
const char* variant_name(variant v) { return v == variant::fused ? "fused" : v == variant::naive ? "naive" : "plain"; }

// Parents and their gradients; values are arbitrary but fixed (no denormals).
struct parents {
  std::vector<std::vector<float>> weight, bias, grad_weight, grad_bias;
  mix_spec<float> spec;
  parents(const conv2d_problem& pb, std::vector<float> coeffs) {
    spec.weight_numel = pb.K * pb.gemm_k();
    spec.bias_numel = pb.K;
    for (std::size_t i = 0; i < coeffs.size(); ++i) {
      weight.emplace_back(std::size_t(spec.weight_numel), 0.01f * float(i + 1));
      bias.emplace_back(std::size_t(pb.K), 0.1f);
      grad_weight.emplace_back(std::size_t(spec.weight_numel), 0.f);
      grad_bias.emplace_back(std::size_t(pb.K), 0.f);
    }
    for (std::size_t i = 0; i < coeffs.size(); ++i)
      spec.terms.push_back({weight[i].data(), bias[i].data(), coeffs[i], grad_weight[i].data(), grad_bias[i].data(), nullptr});
  }
};

void run_conv(benchmark::State& state, const conv2d_problem& pb, variant v, bool backward) {
  const parents p(pb, v == variant::plain ? std::vector<float>{1.f} : std::vector<float>{0.3f, 0.7f});
  const Tensor<float> x(pb.input_shape(), 0.5f), dy(pb.output_shape(), 0.25f);
  Tensor<float> y(pb.output_shape()), dx(pb.input_shape());
  const bool naive = v == variant::naive;
  for (auto _ : state) {
    if (naive) ops::cpu::conv2d_fprop_naive(pb, x.data(), y.data(), p.spec);
    else ops::cpu::conv2d_fprop(pb, x.data(), y.data(), p.spec);
    if (backward) {
      if (naive) {
        ops::cpu::conv2d_dgrad_naive(pb, dy.data(), dx.data(), p.spec);
        ops::cpu::conv2d_wgrad_naive(pb, x.data(), dy.data(), p.spec);
      } else {
        ops::cpu::conv2d_dgrad(pb, dy.data(), dx.data(), p.spec);
        ops::cpu::conv2d_wgrad(pb, x.data(), dy.data(), p.spec);
      }
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
    benchmark::ClobberMemory();
  }
  const double flops = pb.fprop_flops() * (backward ? 3.0 : 1.0);
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// U-Net layers: 3×3, padding 1, C = K = width. The three variants of one problem are
// registered next to each other so they see the same machine state.
void register_all() {
  for (bool backward : {false, true})
    for (index_t batch : {4, 8})
      for (index_t size : {128, 192})
        for (index_t width : {16, 32, 64})
          for (variant v : {variant::fused, variant::naive, variant::plain}) {
            const conv2d_problem pb{batch, width, size, size, width, 3, 3, 1, 1, 1, 1};
            const std::string name = std::string(backward ? "conv2d_fwd_bwd/" : "conv2d_fwd/") + variant_name(v) +
                                     "/N" + std::to_string(batch) + "_C" + std::to_string(width) + "_" +
                                     std::to_string(size);
            benchmark::RegisterBenchmark(name.c_str(), [pb, v, backward](benchmark::State& s) {
              run_conv(s, pb, v, backward);
            })->UseRealTime()->Unit(benchmark::kMillisecond);
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
