// Whole training steps on the CUDA device at the paper's scale (width 64, 256², batch 8 per
// task): one U-Net step, the two-task ModelMix step (method::Trainer::step with
// trainer_options::where = cuda) and a plain step with the same three passes per task — the
// GPU counterpart of unet_step_bench.cpp, with the same step code (step_fixtures.hpp).
//
// Counter peak_device_MB: the high-water mark of device memory allocated by the library
// (cuda::device_memory(): tensors, parameters, Adam state, workspaces; what is live, not what
// the memory pool holds), from before the networks are built to the end of the timed steps.
// BM_modelmix_step's against BM_plain_three_pass_step's is what mixing costs in memory.
// benchmarks/torch_modelmix_step.py --device cuda prints PyTorch's numbers for the same steps
// (torch.cuda.max_memory_allocated, the same kind of count); scripts/gpu_check.sh runs both.
//
//   ./bench_device_step                                   # width 64, 256², batch 8
//   ./bench_device_step --modelmix_config=16,128,4        # other W,S,B (repeatable)
//
// Without a usable device it prints "MODELMIX_SKIP: no CUDA device: <reason>" and exits 0.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <vector>

#include <modelmix/cuda/runtime.hpp>

#include "step_fixtures.hpp"

using namespace modelmix;
using namespace modelmix::bench;

namespace {

using config = std::tuple<index_t, index_t, index_t>;  // width, size, batch per task

void report_device_peak(benchmark::State& state) {
  state.counters["peak_device_MB"] = double(cuda::device_memory().peak_bytes) / 1e6;
}

void BM_unet_step(benchmark::State& state, config c) {
  const auto [width, size, batch] = c;
  cuda::reset_device_peak();
  step_fixture f(width, size, batch, device::cuda);
  std::uint64_t step = 0;
  for (int i = 0; i < warmup_steps; ++i) train_step(f, ++step);
  for (auto _ : state) benchmark::DoNotOptimize(train_step(f, ++step));
  report_device_peak(state);
}

void BM_modelmix_step(benchmark::State& state, config c) {
  const auto [width, size, batch] = c;
  cuda::reset_device_peak();
  method::Trainer trainer(synthetic_tasks(size), modelmix_options(width, batch, device::cuda));
  for (int i = 0; i < warmup_steps; ++i) trainer.step();
  for (auto _ : state) benchmark::DoNotOptimize(trainer.step().total);
  report_device_peak(state);
}

void BM_plain_three_pass_step(benchmark::State& state, config c) {
  const auto [width, size, batch] = c;
  cuda::reset_device_peak();
  plain_fixture f(width, size, batch, device::cuda);
  std::uint64_t step = 0;
  for (int i = 0; i < warmup_steps; ++i) plain_three_pass_step(f, ++step);
  for (auto _ : state) benchmark::DoNotOptimize(plain_three_pass_step(f, ++step));
  report_device_peak(state);
}

// --modelmix_config=W,S,B (repeatable), taken out of argv before Google Benchmark sees it.
std::vector<config> take_configs(int& argc, char** argv) {
  std::vector<config> configs;
  const char* flag = "--modelmix_config=";
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], flag, std::strlen(flag)) != 0) {
      argv[kept++] = argv[i];
      continue;
    }
    long w = 0, s = 0, b = 0;
    char tail = 0;
    if (std::sscanf(argv[i] + std::strlen(flag), "%ld,%ld,%ld%c", &w, &s, &b, &tail) != 3 || w < 1 || s < 16 ||
        b < 1) {
      std::fprintf(stderr, "%s: expected WIDTH,SIZE,BATCH (positive; SIZE at least 16), e.g. 64,256,8\n", argv[i]);
      std::exit(2);
    }
    configs.emplace_back(w, s, b);
  }
  argc = kept;
  if (configs.empty()) configs.emplace_back(64, 256, 8);
  return configs;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<config> configs = take_configs(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const cuda::availability device = cuda::device_available();
  if (!device.available) {
    std::printf("MODELMIX_SKIP: no CUDA device: %s\n", device.reason.c_str());
    return 0;
  }
  benchmark::AddCustomContext("device", device.device_name);
  for (const auto& [width, size, batch] : configs) {
    const std::string args = cat("/width:", width, "/size:", size, "/batch:", batch);
    const config c{width, size, batch};
    for (const auto& [name, fn] : {std::pair{"device/BM_unet_step", &BM_unet_step},
                                   std::pair{"device/BM_modelmix_step", &BM_modelmix_step},
                                   std::pair{"device/BM_plain_three_pass_step", &BM_plain_three_pass_step}})
      benchmark::RegisterBenchmark(cat(name, args).c_str(), fn, c)->Unit(benchmark::kMillisecond)->UseRealTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
