// One U-Net training step through the whole library (tape, every op's dispatch point,
// softmax + partial cross-entropy, backward, Adam), and one ModelMix virtual-model pass
// (a re-pointed mixing::plan) — the numbers that say what the op seam and the mixing
// machinery cost. The source uses only public API that predates the device-aware core,
// so the same file builds against an older checkout for a paired before/after run:
//
//   OMP_NUM_THREADS=2 ./bench_unet_step --benchmark_min_time=2
//
// benchmarks/compare_unet_step.py runs BM_unet_step interleaved with PyTorch doing the same
// step (benchmarks/torch_unet_step.py) and prints the ratios.
#include <benchmark/benchmark.h>

#include <modelmix/core/host_memory.hpp>
#include <modelmix/modelmix.hpp>

using namespace modelmix;

namespace {

struct step_fixture {
  models::UNet<float> net, partner;
  Tensor<float> image, target;
  std::unique_ptr<optim::Adam<float>> adam;

  step_fixture(index_t width, index_t size, index_t batch)
      : net(options(width, 1)), partner(options(width, 2)), image(Shape{batch, 1, size, size}),
        target(Shape{batch, 4, size, size}) {
    std::uint64_t s = 12345;
    for (index_t i = 0; i < image.numel(); ++i) image[i] = float(splitmix64(s + std::uint64_t(i)) % 1000) / 500.0f - 1.0f;
    // A scribble on every 7th pixel, class by position: a sparse one-hot target.
    const index_t plane = size * size;
    for (index_t n = 0; n < batch; ++n)
      for (index_t i = 0; i < plane; i += 7) target[(n * 4 + (i / size) % 4) * plane + i] = 1.0f;
    adam = std::make_unique<optim::Adam<float>>(layers::named_parameters(net), optim::adam_options{});
  }
  static models::unet_options options(index_t width, std::uint64_t seed) {
    return {.in_channels = 1, .classes = 4, .width = width, .depth = 5, .seed = seed};
  }
};

float train_step(step_fixture& f, std::uint64_t step) {
  Tape<float> tape;
  const Var<float> p = f.net.forward(tape, tape.constant(f.image), {.training = true, .seed = step});
  const Var<float> loss = losses::pce(p, tape.constant(f.target));
  f.adam->zero_grad();
  tape.backward(loss);
  f.adam->step();
  return loss.value()[0];
}

// The first steps from a fresh initialisation run several times slower than the steady
// state (measured: ~3.3 s vs ~0.9 s at width 32, in every build), so a few untimed steps
// come first and the timed ones are the steady state a training run spends its time in.
constexpr int warmup_steps = 4;

void BM_unet_step(benchmark::State& state) {
  step_fixture f(state.range(0), state.range(1), state.range(2));
  std::uint64_t step = 0;
  for (int i = 0; i < warmup_steps; ++i) train_step(f, ++step);
  for (auto _ : state) benchmark::DoNotOptimize(train_step(f, ++step));
}

// The virtual-model pass of a ModelMix step: one encoder layer mixed (fused), forward and
// backward into both parents.
void BM_modelmix_virtual_pass(benchmark::State& state) {
  step_fixture f(state.range(0), state.range(1), state.range(2));
  const std::vector<std::string> layers_ = layers::mixable_paths(f.net);
  std::uint64_t step = 0;
  for (int i = 0; i < warmup_steps; ++i) train_step(f, ++step);
  for (auto _ : state) {
    const std::string& path = layers_[step % 8];
    auto view = layers::mix_networks(f.net, 0.3, f.partner, layers::select::path(path));
    Tape<float> tape;
    const Var<float> p = view.forward(tape, tape.constant(f.image), {.training = true, .seed = ++step});
    const Var<float> loss = losses::pce(p, tape.constant(f.target));
    tape.backward(loss);
    benchmark::DoNotOptimize(loss.value()[0]);
  }
}

}  // namespace

BENCHMARK(BM_unet_step)->ArgNames({"width", "size", "batch"})->Args({16, 128, 4})->Args({32, 128, 4})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_modelmix_virtual_pass)->ArgNames({"width", "size", "batch"})->Args({16, 128, 4})->Unit(benchmark::kMillisecond)->UseRealTime();

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
