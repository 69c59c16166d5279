// One U-Net training step through the whole library (tape, every op's dispatch point,
// softmax + partial cross-entropy, backward, Adam), one ModelMix virtual-model pass (a
// re-pointed mixing::plan), and the whole two-task ModelMix step (method::Trainer::step)
// beside a plain step with the same passes — the numbers that say what the op seam and the
// mixing machinery cost. The source uses only public API of the library's last few commits,
// so the same file builds against an older checkout for a paired before/after run:
//
//   OMP_NUM_THREADS=2 ./bench_unet_step --benchmark_min_time=2
//
// benchmarks/compare_unet_step.py runs BM_unet_step (or, with --step modelmix,
// BM_modelmix_step) interleaved with PyTorch doing the same step (torch_unet_step.py,
// torch_modelmix_step.py) and prints the ratios.
#include <benchmark/benchmark.h>

#include <modelmix/core/host_memory.hpp>
#include <modelmix/method/step_memory.hpp>
#include <modelmix/modelmix.hpp>

using namespace modelmix;

namespace {

models::unet_options unet(index_t width, std::uint64_t seed) {
  return {.in_channels = 1, .classes = 4, .width = width, .depth = 5, .seed = seed};
}

// A batch of images in [-1, 1] and its target: a scribble on every 7th pixel, class by
// position (a sparse one-hot).
struct synthetic_batch {
  Tensor<float> image, target;
  synthetic_batch(index_t size, index_t batch) : image(Shape{batch, 1, size, size}), target(Shape{batch, 4, size, size}) {
    std::uint64_t s = 12345;
    for (index_t i = 0; i < image.numel(); ++i) image[i] = float(splitmix64(s + std::uint64_t(i)) % 1000) / 500.0f - 1.0f;
    const index_t plane = size * size;
    for (index_t n = 0; n < batch; ++n)
      for (index_t i = 0; i < plane; i += 7) target[(n * 4 + (i / size) % 4) * plane + i] = 1.0f;
  }
};

struct step_fixture : synthetic_batch {
  models::UNet<float> net, partner;
  std::unique_ptr<optim::Adam<float>> adam;

  step_fixture(index_t width, index_t size, index_t batch)
      : synthetic_batch(size, batch), net(unet(width, 1)), partner(unet(width, 2)) {
    adam = std::make_unique<optim::Adam<float>>(layers::named_parameters(net), optim::adam_options{});
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

// ---- The whole ModelMix step, and a plain step with the same passes ----
//
// Two tasks, batch B each. The ModelMix step is method::Trainer::step() (per task: the clean,
// the mixed-up and the rotated batch through the virtual model; every loss term; one Adam
// step over both networks) on synthetic slices without augmentation, so it times the network
// work as the PyTorch reference (torch_modelmix_step.py) does. The plain step takes the same
// three passes per task through the task's own network (no mixed layer) with the same loss
// terms: the baseline for what mixing costs in time and in tensor memory (counter peak_MB:
// the high-water mark of all tensor storage, parameters and Adam state included).

std::vector<method::task_setup> synthetic_tasks(index_t size) {
  std::vector<method::task_setup> tasks = method::detail::probe_tasks(2, size);
  for (method::task_setup& t : tasks) t.augmentation = data::augment_options::none();
  return tasks;
}

method::trainer_options modelmix_options(index_t width, index_t batch) {
  method::trainer_options o;
  o.network = unet(width, 1);
  o.batch_size = batch;
  o.schedule = optim::constant_lr{1e-3};
  return o;
}

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

// Two tasks' networks and batches, one Adam over both networks (as the trainer's).
struct plain_fixture {
  models::UNet<float> net[2];
  synthetic_batch batch;
  std::unique_ptr<optim::Adam<float>> adam;
  plain_fixture(index_t width, index_t size, index_t batch_size)
      : net{models::UNet<float>(unet(width, 1)), models::UNet<float>(unet(width, 2))}, batch(size, batch_size) {
    auto params = layers::named_parameters(net[0]);
    for (auto& [name, p] : layers::named_parameters(net[1])) params.emplace_back("t1." + name, p);
    adam = std::make_unique<optim::Adam<float>>(std::move(params), optim::adam_options{});
  }
};

float plain_three_pass_step(plain_fixture& f, std::uint64_t step) {
  Tape<float> tape;
  Var<float> total;
  const double angle = double(step % 360);
  for (int t = 0; t < 2; ++t) {
    models::UNet<float>& net = f.net[t];
    const Tensor<float>& image = f.batch.image;
    const Tensor<float>& target = f.batch.target;
    const std::vector<double> betas(std::size_t(image.dim(0)), 0.3);
    const auto ctx = [&](std::uint64_t pass) {
      return layers::forward_context<float>{.training = true, .seed = step * 8 + pass, .update_running_stats = pass == 0};
    };
    const Var<float> y = tape.constant(target);
    const Var<float> p = net.forward(tape, tape.constant(image), ctx(0));
    Var<float> loss = ops::add(losses::pce(p, y), losses::dice(p, y));
    const Var<float> p_mix = net.forward(tape, tape.constant(losses::mix_with_reversed(image, betas)), ctx(1));
    loss = ops::add(loss, losses::pce(p_mix, tape.constant(losses::mix_with_reversed(target, betas))));
    loss = ops::add(loss, losses::cosine_consistency(p_mix, losses::mix_with_reversed(p, betas)));
    const Var<float> y_rot = tape.constant(ops::rotate_planes(target, angle, 0.0f));
    const Var<float> p_rot = net.forward(tape, tape.constant(ops::rotate_planes(image, angle, 0.0f)), ctx(2));
    loss = ops::add(loss, ops::add(losses::pce(p_rot, y_rot), losses::dice(p_rot, y_rot)));
    loss = ops::add(loss, losses::cosine_invariance(p, ops::rotate(p_rot, float(-angle))));
    total = t == 0 ? loss : ops::add(total, loss);
  }
  f.adam->zero_grad();
  tape.backward(total);
  f.adam->step();
  return total.value()[0];
}

void BM_plain_three_pass_step(benchmark::State& state) {
  memory::reset_peak();
  plain_fixture f(state.range(0), state.range(1), state.range(2));
  std::uint64_t step = 0;
  for (int i = 0; i < warmup_steps; ++i) plain_three_pass_step(f, ++step);
  for (auto _ : state) benchmark::DoNotOptimize(plain_three_pass_step(f, ++step));
  report_peak(state);
}

}  // namespace

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
