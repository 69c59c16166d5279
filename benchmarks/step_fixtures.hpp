#pragma once
// What the step benchmarks time, on either device: one U-Net training step (tape, every op's
// dispatch point, softmax + partial cross-entropy, backward, Adam), the two-task ModelMix step
// (method::Trainer::step) and a plain step with the same passes. unet_step_bench.cpp runs
// them on the CPU, device_step_bench.cpp on the CUDA device at the paper's scale.
//
// A device step is timed to its end: each returns a loss value read back to the host, which
// waits for the queued kernels (the optimizer's included).
#include <memory>
#include <string>
#include <vector>

#include <modelmix/method/step_memory.hpp>
#include <modelmix/modelmix.hpp>

namespace modelmix::bench {

inline models::unet_options unet(index_t width, std::uint64_t seed) {
  return {.in_channels = 1, .classes = 4, .width = width, .depth = 5, .seed = seed};
}

// The first element of a tensor on either device (for a device tensor, a copy that waits for
// the work that produces it).
inline float first_value(const Tensor<float>& t) { return t.on_device() ? t.to_host()[0] : t[0]; }

// A batch of images in [-1, 1] and its target: a scribble on every 7th pixel, class by
// position (a sparse one-hot). Formed on the host.
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

// One network, its partner (for a mixed layer) and Adam, all on `where`; the batch on `where` too.
struct step_fixture {
  Tensor<float> image, target;
  models::UNet<float> net, partner;
  std::unique_ptr<optim::Adam<float>> adam;

  step_fixture(index_t width, index_t size, index_t batch, device where = device::cpu)
      : net(unet(width, 1)), partner(unet(width, 2)) {
    synthetic_batch b(size, batch);
    image = b.image.to(where);
    target = b.target.to(where);
    // Before Adam: its state is allocated beside the parameters.
    layers::to_device(net, where);
    layers::to_device(partner, where);
    adam = std::make_unique<optim::Adam<float>>(layers::named_parameters(net), optim::adam_options{});
  }
};

// fuse: conv → BN → ReLU units fused (the default) or as three layers (layers/conv_bn_relu.hpp).
inline float train_step(step_fixture& f, std::uint64_t step, bool fuse = true) {
  Tape<float> tape;
  const Var<float> p =
      f.net.forward(tape, tape.constant(f.image), {.training = true, .seed = step, .fuse_conv_bn_relu = fuse});
  const Var<float> loss = losses::pce(p, tape.constant(f.target));
  f.adam->zero_grad();
  tape.backward(loss);
  f.adam->step();
  return first_value(loss.value());
}

// The virtual-model pass of a ModelMix step: encoder layer `path` mixed (fused), forward and
// backward into both parents.
inline float virtual_pass(step_fixture& f, const std::string& path, std::uint64_t step) {
  auto view = layers::mix_networks(f.net, 0.3, f.partner, layers::select::path(path));
  Tape<float> tape;
  const Var<float> p = view.forward(tape, tape.constant(f.image), {.training = true, .seed = step});
  const Var<float> loss = losses::pce(p, tape.constant(f.target));
  tape.backward(loss);
  return first_value(loss.value());
}

// The first steps from a fresh initialisation run several times slower than the steady
// state (measured on the CPU: ~3.3 s vs ~0.9 s at width 32, in every build; on a device the
// memory pool fills in the first step), so a few untimed steps come first and the timed ones
// are the steady state a training run spends its time in.
constexpr int warmup_steps = 4;

// ---- The whole ModelMix step, and a plain step with the same passes ----
//
// Two tasks, batch B each. The ModelMix step is method::Trainer::step() (per task: the clean,
// the mixed-up and the rotated batch through the virtual model; every loss term; one Adam
// step over both networks) on synthetic slices without augmentation, so it times the network
// work as the PyTorch reference (torch_modelmix_step.py) does. The plain step takes the same
// three passes per task through the task's own network (no mixed layer) with the same loss
// terms, its batches formed on the host and uploaded as the trainer's are: the baseline for
// what mixing costs in time and in memory.

inline std::vector<method::task_setup> synthetic_tasks(index_t size) {
  std::vector<method::task_setup> tasks = method::detail::probe_tasks(2, size);
  for (method::task_setup& t : tasks) t.augmentation = data::augment_options::none();
  return tasks;
}

inline method::trainer_options modelmix_options(index_t width, index_t batch, device where = device::cpu) {
  method::trainer_options o;
  o.network = unet(width, 1);
  o.batch_size = batch;
  o.schedule = optim::constant_lr{1e-3};
  o.where = where;
  return o;
}

// Two tasks' networks and batches, one Adam over both networks (as the trainer's).
struct plain_fixture {
  models::UNet<float> net[2];
  synthetic_batch batch;
  device where;
  std::unique_ptr<optim::Adam<float>> adam;
  plain_fixture(index_t width, index_t size, index_t batch_size, device where_ = device::cpu)
      : net{models::UNet<float>(unet(width, 1)), models::UNet<float>(unet(width, 2))},
        batch(size, batch_size),
        where(where_) {
    for (auto& n : net) layers::to_device(n, where);
    auto params = layers::named_parameters(net[0]);
    for (auto& [name, p] : layers::named_parameters(net[1])) params.emplace_back("t1." + name, p);
    adam = std::make_unique<optim::Adam<float>>(std::move(params), optim::adam_options{});
  }
};

inline float plain_three_pass_step(plain_fixture& f, std::uint64_t step) {
  Tape<float> tape;
  Var<float> total;
  const double angle = double(step % 360);
  const auto input = [&](const Tensor<float>& host) {
    return tape.constant(host.where() == f.where ? host : host.to(f.where));
  };
  for (int t = 0; t < 2; ++t) {
    models::UNet<float>& net = f.net[t];
    const Tensor<float>& image = f.batch.image;
    const Tensor<float>& target = f.batch.target;
    const std::vector<double> betas(std::size_t(image.dim(0)), 0.3);
    const auto ctx = [&](std::uint64_t pass) {
      return layers::forward_context<float>{.training = true, .seed = step * 8 + pass, .update_running_stats = pass == 0};
    };
    const Var<float> y = input(target);
    const Var<float> p = net.forward(tape, input(image), ctx(0));
    Var<float> loss = ops::add(losses::pce(p, y), losses::dice(p, y));
    const Var<float> p_mix = net.forward(tape, input(losses::mix_with_reversed(image, betas)), ctx(1));
    loss = ops::add(loss, losses::pce(p_mix, input(losses::mix_with_reversed(target, betas))));
    loss = ops::add(loss, losses::cosine_consistency(p_mix, losses::mix_with_reversed(p, betas)));
    const Var<float> y_rot = input(ops::rotate_planes(target, angle, 0.0f));
    const Var<float> p_rot = net.forward(tape, input(ops::rotate_planes(image, angle, 0.0f)), ctx(2));
    loss = ops::add(loss, ops::add(losses::pce(p_rot, y_rot), losses::dice(p_rot, y_rot)));
    loss = ops::add(loss, losses::cosine_invariance(p, ops::rotate(p_rot, float(-angle))));
    total = t == 0 ? loss : ops::add(total, loss);
  }
  f.adam->zero_grad();
  tape.backward(total);
  f.adam->step();
  return first_value(total.value());
}

}  // namespace modelmix::bench
