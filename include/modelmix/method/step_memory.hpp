#pragma once
// How much host memory a training step will need, known before training starts, so that a
// batch or slice size that would exhaust the machine is refused up front with its size
// instead of dying in the middle of a run (or swapping it to a crawl).
//
// Measured, not modelled: two throwaway trainers with the same options take one step each on
// synthetic slices at a small size s0, with batches of 2 and 4, while tensor/memory_stats.hpp
// records the high-water mark of tensor storage. Everything a step holds beyond the parameters
// and optimizer state (tape activations and their gradients, the loaders' prefetched batches)
// is proportional to batch × S² in a fully convolutional U-Net, so
//     bytes(B, S) = fixed + per_sample_pixel · B · S²
// with the two unknowns fitted from the two probes. Test: tests/method/step_memory_test.cpp
// compares the estimate with a real step's measured peak.
#include <algorithm>
#include <cstddef>

#include "modelmix/method/trainer.hpp"
#include "modelmix/tensor/memory_stats.hpp"

namespace modelmix::method {

struct step_memory {
  double fixed_bytes = 0;             // parameters, optimizer state, buffers
  double bytes_per_sample_pixel = 0;  // activations, gradients and batches, per slice and pixel

  [[nodiscard]] double bytes(index_t batch, index_t size) const {
    return fixed_bytes + bytes_per_sample_pixel * double(batch) * double(size) * double(size);
  }
};

namespace detail {

// Two slices per task of size s (one scribbled, one not), so every pass of every method runs.
[[nodiscard]] inline std::vector<task_setup> probe_tasks(std::size_t tasks, index_t s) {
  std::vector<task_setup> out;
  for (std::size_t t = 0; t < tasks; ++t) {
    task_setup setup{cat("probe", t), {}, {}};
    for (int scribbled = 1; scribbled >= 0; --scribbled) {
      data::slice_sample x;
      x.image = Tensor<float>(Shape{1, s, s});
      for (index_t i = 0; i < s * s; ++i) x.image[i] = float(i % 7) / 7.0f;
      x.scribble = Tensor<data::label_t>(Shape{s, s});
      x.scribble.fill(data::unlabeled_label);
      if (scribbled)
        for (index_t c = 0; c < 4; ++c) x.scribble[(s / 2) * s + c * (s / 4)] = data::label_t(c);
      x.volume = scribbled ? 0 : 1;
      x.height = x.width = s;
      setup.slices.push_back(std::move(x));
    }
    out.push_back(std::move(setup));
  }
  return out;
}

// Peak tensor bytes of constructing a trainer and taking one step, above what was live before.
[[nodiscard]] inline double probe_step_bytes(trainer_options options, std::size_t tasks, index_t batch, index_t s) {
  options.batch_size = batch;
  options.on_nonfinite = nonfinite_policy::skip;  // the probe's numbers are irrelevant
  const std::size_t before = memory::live_bytes();
  memory::reset_peak();
  {
    Trainer probe(probe_tasks(tasks, s), options);
    (void)probe.step();
  }
  return double(memory::peak_bytes() - before);
}

}  // namespace detail

// The step memory of a Trainer with `options` over `tasks` tasks (any slice size and batch).
// Costs two steps at a small size (≈ the time of a few percent of one real step).
[[nodiscard]] inline step_memory measure_step_memory(const trainer_options& options, std::size_t tasks) {
  const index_t multiple = index_t(1) << (options.network.depth - 1);
  const index_t s0 = std::max<index_t>(32, multiple);  // the smallest size every depth accepts, or 32
  const double small = detail::probe_step_bytes(options, tasks, 2, s0);
  const double large = detail::probe_step_bytes(options, tasks, 4, s0);
  step_memory m;
  m.bytes_per_sample_pixel = std::max(0.0, (large - small) / (2.0 * double(s0) * double(s0)));
  m.fixed_bytes = std::max(0.0, small - m.bytes_per_sample_pixel * 2.0 * double(s0) * double(s0));
  return m;
}

}  // namespace modelmix::method
