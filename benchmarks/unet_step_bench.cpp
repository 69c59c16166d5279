// One U-Net training step through the whole library (tape, every op's dispatch point,
// softmax + partial cross-entropy, backward, Adam), one ModelMix virtual-model pass (a
// re-pointed mixing::plan), and the whole two-task ModelMix step (method::Trainer::step)
// beside a plain step with the same passes — the numbers that say what the op seam and the
// mixing machinery cost (the steps themselves are in step_fixtures.hpp, shared with the device
// benchmark). The sources use only public API of the library's last few commits, so the same
// files build against an older checkout for a paired before/after run:
//
//   OMP_NUM_THREADS=2 ./bench_unet_step --benchmark_min_time=2
//
// benchmarks/compare_unet_step.py runs BM_unet_step (or, with --step modelmix,
// BM_modelmix_step) interleaved with PyTorch doing the same step (torch_unet_step.py,
// torch_modelmix_step.py) and prints the ratios. BM_unet_eval_paired and BM_unet_step_paired
// (conv → BN → ReLU fused or not) need forward_context::fuse_conv_bn_relu, i.e. a checkout from
// 2026-12-02 on.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include <modelmix/core/host_memory.hpp>

#include "step_fixtures.hpp"

using namespace modelmix;
using namespace modelmix::bench;

namespace {

void BM_unet_step(benchmark::State& state) {
  step_fixture f(state.range(0), state.range(1), state.range(2));
  std::uint64_t step = 0;
  for (int i = 0; i < warmup_steps; ++i) train_step(f, ++step);
  for (auto _ : state) benchmark::DoNotOptimize(train_step(f, ++step));
}

void BM_modelmix_virtual_pass(benchmark::State& state) {
  step_fixture f(state.range(0), state.range(1), state.range(2));
  const std::vector<std::string> layers_ = layers::mixable_paths(f.net);
  std::uint64_t step = 0;
  for (int i = 0; i < warmup_steps; ++i) train_step(f, ++step);
  for (auto _ : state) {
    const std::string& path = layers_[step % 8];
    benchmark::DoNotOptimize(virtual_pass(f, path, ++step));
  }
}

// peak_MB: the high-water mark of all host tensor storage, parameters and Adam state included.
void report_peak(benchmark::State& state) {
  state.counters["peak_MB"] = double(memory::peak_bytes()) / 1e6;
}

void BM_modelmix_step(benchmark::State& state) {
  memory::reset_peak();
  method::Trainer trainer(synthetic_tasks(state.range(1)), modelmix_options(state.range(0), state.range(2)));
  for (int i = 0; i < warmup_steps; ++i) trainer.step();
  for (auto _ : state) benchmark::DoNotOptimize(trainer.step().total);
  report_peak(state);
}

void BM_plain_three_pass_step(benchmark::State& state) {
  memory::reset_peak();
  plain_fixture f(state.range(0), state.range(1), state.range(2));
  std::uint64_t step = 0;
  for (int i = 0; i < warmup_steps; ++i) plain_three_pass_step(f, ++step);
  for (auto _ : state) benchmark::DoNotOptimize(plain_three_pass_step(f, ++step));
  report_peak(state);
}

// `run(fused)` with conv → BN → ReLU units fused and as three layers, back to back in every
// iteration (alternating which goes first), so both see the same machine load (this guest's
// speed drifts by ±20 % within minutes). Counters: each variant's fastest call and its peak
// tensor memory, and the median over iterations of the paired speedup unfused/fused.
template <class Run>
void run_fused_paired(benchmark::State& state, Run&& run) {
  double seconds[2] = {0, 0}, best[2] = {1e9, 1e9}, peak_mb[2] = {0, 0};
  const auto timed = [&](bool fused) {
    memory::reset_peak();
    const auto t0 = std::chrono::steady_clock::now();
    run(fused);
    seconds[fused] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    peak_mb[fused] = double(memory::peak_bytes()) / 1e6;
    best[fused] = std::min(best[fused], seconds[fused]);
  };
  std::vector<double> speedups;
  bool fused_first = true;
  for (auto _ : state) {
    timed(fused_first);
    timed(!fused_first);
    fused_first = !fused_first;
    speedups.push_back(seconds[0] / seconds[1]);
  }
  std::sort(speedups.begin(), speedups.end());
  state.counters["fused_ms"] = best[1] * 1e3;
  state.counters["unfused_ms"] = best[0] * 1e3;
  state.counters["unfused/fused"] = speedups[speedups.size() / 2];
  state.counters["fused_MB"] = peak_mb[1];
  state.counters["unfused_MB"] = peak_mb[0];
}

// Evaluation (no gradients, BN on running statistics) of one batch: the fused units are one
// convolution each (BN folded in). An evaluation tape keeps every value until it is destroyed,
// so the peak is the whole forward's.
void BM_unet_eval_paired(benchmark::State& state) {
  models::UNet<float> net(unet(state.range(0), 1));
  const synthetic_batch batch(state.range(1), state.range(2));
  autograd::no_grad_guard no_grad;
  const auto forward = [&](bool fused) {
    Tape<float> tape;
    benchmark::DoNotOptimize(
        net.forward(tape, tape.constant_ref(batch.image), {.fuse_conv_bn_relu = fused}).value().data());
  };
  forward(true);  // warm-up: first touch of the allocator's blocks
  forward(false);
  run_fused_paired(state, forward);
}

// The U-Net training step (BM_unet_step's): the fused units are conv, then BN + ReLU as one op.
void BM_unet_step_paired(benchmark::State& state) {
  step_fixture f(state.range(0), state.range(1), state.range(2));
  std::uint64_t step = 0;
  for (int i = 0; i < warmup_steps; ++i) train_step(f, ++step, i % 2 == 0);
  run_fused_paired(state, [&](bool fused) { benchmark::DoNotOptimize(train_step(f, ++step, fused)); });
}

}  // namespace

BENCHMARK(BM_unet_eval_paired)->ArgNames({"width", "size", "batch"})->Args({16, 128, 8})->Args({32, 128, 8})->Args({16, 256, 8})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_unet_step_paired)->ArgNames({"width", "size", "batch"})->Args({16, 128, 4})->Args({32, 128, 4})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_unet_step)->ArgNames({"width", "size", "batch"})->Args({16, 128, 4})->Args({32, 128, 4})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_modelmix_virtual_pass)->ArgNames({"width", "size", "batch"})->Args({16, 128, 4})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_modelmix_step)->ArgNames({"width", "size", "batch"})->Args({16, 128, 4})->Args({32, 128, 4})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_plain_three_pass_step)->ArgNames({"width", "size", "batch"})->Args({16, 128, 4})->Args({32, 128, 4})->Unit(benchmark::kMillisecond)->UseRealTime();

// The widest vector instructions the build may use, in the report's context (the side-by-side
// script prints it beside the ratios: the flags decide the speed; see MODELMIX_CPU_ARCH).
constexpr const char* compiled_simd() {
#if defined(__AVX512F__)
  return "AVX-512 (-march=native or similar)";
#elif defined(__AVX2__) && defined(__FMA__)
  return "AVX2+FMA";
#elif defined(__AVX__)
  return "AVX";
#else
  return "SSE2 baseline";
#endif
}

int main(int argc, char** argv) {
  // As modelmix-cardiac does: a step's buffers are reused, not faulted in again every step.
  modelmix::keep_freed_host_memory();
  benchmark::AddCustomContext("modelmix_simd", compiled_simd());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
