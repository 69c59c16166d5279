#pragma once
// Batches of augmented 2D slices for training:
//   image    [B, C, S, S] float
//   scribble [B, S, S]    uint8 (4 = unlabeled)
//   label    [B, S, S]    uint8, only when every slice of the batch has a dense label
//
// Sampling: the pool lists slice indices (slices with any scribble appear
// `scribbled_repeat` times, like the reference code repeating its scribbled volumes 40–80×
// in the dataset). Epoch e is a seeded permutation of the pool, and the stream of batches
// is the concatenation of the epochs cut into runs of B, so batch k is a pure function of
// (seed, k): its slots are stream positions k·B … k·B + B − 1, and slot i is augmented with
// its own stream derive_seed(seed, k, i). A background thread prepares the next batch while
// the consumer trains on the current one (one slot, mutex + condition variable), and thread
// timing cannot change what comes out. An exception thrown while preparing batch k
// (augmentation, the user's transform, ...) is rethrown by the consumer's call that would have
// returned batch k, and by every later call. The destructor stops and joins the worker.
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/data/augment.hpp"
#include "modelmix/data/random.hpp"
#include "modelmix/data/slices.hpp"

namespace modelmix::data {

struct slice_batch {
  Tensor<float> image;            // [B, C, S, S]
  Tensor<label_t> scribble;       // [B, S, S]
  Tensor<label_t> label;          // [B, S, S], or empty
  std::vector<index_t> slices;    // index of each sample in the loader's slice list
  index_t index = 0;              // k: position in the stream of batches
};

struct batch_loader_options {
  index_t batch_size = 8;
  std::uint64_t seed = 42;
  bool shuffle = true;  // false: epochs walk the pool in order (evaluation, tests)
  bool augment = true;
  augment_options augmentation{};
  index_t scribbled_repeat = 1;
  bool background = true;  // prepare the next batch on a worker thread
  // Index of the first batch next() returns: batch k depends only on (seed, k), so a resumed
  // training run continues the stream exactly where it stopped.
  index_t first_batch = 0;
  // Runs on each sample after augmentation (on the worker thread); may throw.
  std::function<void(slice_sample&, random_source&)> transform;
};

// Stack the given samples into one batch; all must share the image and scribble shapes.
[[nodiscard]] inline slice_batch stack_samples(const std::vector<slice_sample>& samples) {
  MODELMIX_REQUIRE(!samples.empty(), "stack_samples: no samples");
  const slice_sample& first = samples.front();
  MODELMIX_REQUIRE(first.image.rank() == 3 && first.scribble.rank() == 2 && first.scribble.dim(0) == first.image.dim(1) &&
                       first.scribble.dim(1) == first.image.dim(2),
                   "stack_samples: need image [C, S, S] and scribble [S, S], got ", first.image.shape(), " and ",
                   first.scribble.shape());
  const auto B = index_t(samples.size());
  const index_t C = first.image.dim(0), H = first.image.dim(1), W = first.image.dim(2);
  bool labels = true;
  for (const slice_sample& s : samples) labels = labels && s.has_label();
  slice_batch out;
  out.image = Tensor<float>(Shape{B, C, H, W});
  out.scribble = Tensor<label_t>(Shape{B, H, W});
  if (labels) out.label = Tensor<label_t>(Shape{B, H, W});
  for (index_t b = 0; b < B; ++b) {
    const slice_sample& s = samples[std::size_t(b)];
    MODELMIX_REQUIRE(s.image.shape() == first.image.shape() && s.scribble.shape() == first.scribble.shape() &&
                         (!labels || s.label.shape() == first.scribble.shape()),
                     "stack_samples: sample ", b, " has image ", s.image.shape(), ", scribble ", s.scribble.shape(),
                     "; sample 0 has ", first.image.shape(), ", ", first.scribble.shape());
    std::copy(s.image.span().begin(), s.image.span().end(), out.image.data() + b * C * H * W);
    std::copy(s.scribble.span().begin(), s.scribble.span().end(), out.scribble.data() + b * H * W);
    if (labels) std::copy(s.label.span().begin(), s.label.span().end(), out.label.data() + b * H * W);
  }
  return out;
}

class batch_loader {
 public:
  batch_loader(std::shared_ptr<const std::vector<slice_sample>> slices, batch_loader_options options)
      : slices_(std::move(slices)), options_(std::move(options)) {
    MODELMIX_REQUIRE(slices_ && !slices_->empty(), "batch_loader: no slices");
    MODELMIX_REQUIRE(options_.batch_size > 0, "batch_loader: batch_size must be positive, got ", options_.batch_size);
    MODELMIX_REQUIRE(options_.scribbled_repeat >= 1, "batch_loader: scribbled_repeat must be ≥ 1, got ",
                     options_.scribbled_repeat);
    for (index_t i = 0; i < index_t(slices_->size()); ++i) {
      const index_t copies = (*slices_)[std::size_t(i)].has_scribbles() ? options_.scribbled_repeat : 1;
      for (index_t c = 0; c < copies; ++c) pool_.push_back(i);
    }
    if (options_.background) worker_ = std::thread([this] { run(); });
  }
  batch_loader(std::vector<slice_sample> slices, batch_loader_options options)
      : batch_loader(std::make_shared<const std::vector<slice_sample>>(std::move(slices)), std::move(options)) {}

  batch_loader(const batch_loader&) = delete;
  batch_loader& operator=(const batch_loader&) = delete;

  ~batch_loader() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    changed_.notify_all();
    if (worker_.joinable()) worker_.join();
  }

  // The next batch of the stream (blocks while the worker is still preparing it).
  [[nodiscard]] slice_batch next() {
    if (!options_.background) return build(consumed_++);
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return ready_.has_value() || error_; });
    if (!ready_) std::rethrow_exception(error_);
    slice_batch out = std::move(*ready_);
    ready_.reset();
    ++consumed_;
    lock.unlock();
    changed_.notify_all();
    return out;
  }

  // Pool entries (slices, scribbled ones repeated) divided by the batch size, rounded up.
  [[nodiscard]] index_t batches_per_epoch() const {
    return (index_t(pool_.size()) + options_.batch_size - 1) / options_.batch_size;
  }
  [[nodiscard]] index_t pool_size() const { return index_t(pool_.size()); }
  [[nodiscard]] index_t batches_delivered() const {
    std::lock_guard lock(mutex_);
    return consumed_;
  }
  [[nodiscard]] const std::vector<slice_sample>& slices() const { return *slices_; }

 private:
  // Batch k, from (seed, k) alone. Only one thread calls it (the worker, or the consumer
  // when there is no worker), so the epoch cache needs no lock.
  [[nodiscard]] slice_batch build(index_t k) {
    const auto pool = index_t(pool_.size()), B = options_.batch_size;
    std::vector<slice_sample> samples;
    samples.reserve(std::size_t(B));
    std::vector<index_t> chosen;
    for (index_t i = 0; i < B; ++i) {
      const index_t position = k * B + i, epoch = position / pool;
      if (epoch != cached_epoch_) {
        order_ = options_.shuffle ? seeded_permutation(pool, derive_seed(options_.seed, std::uint64_t(epoch), 0xE90C))
                                  : identity(pool);
        cached_epoch_ = epoch;
      }
      const index_t slice = pool_[std::size_t(order_[std::size_t(position % pool)])];
      chosen.push_back(slice);
      slice_sample sample = (*slices_)[std::size_t(slice)];
      random_source rng(derive_seed(options_.seed, std::uint64_t(k), std::uint64_t(i)));
      if (options_.augment) augment(sample, options_.augmentation, rng);
      if (options_.transform) options_.transform(sample, rng);
      samples.push_back(std::move(sample));
    }
    slice_batch out = stack_samples(samples);
    out.slices = std::move(chosen);
    out.index = k;
    return out;
  }

  [[nodiscard]] static std::vector<index_t> identity(index_t n) {
    std::vector<index_t> v(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) v[std::size_t(i)] = i;
    return v;
  }

  void run() {
    for (index_t k = options_.first_batch;; ++k) {
      {  // Wait for a free slot first: at most one batch waits ahead of the consumer.
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return stop_ || !ready_.has_value(); });
        if (stop_) return;
      }
      std::optional<slice_batch> built;
      std::exception_ptr failure;
      try {
        built = build(k);
      } catch (...) {
        failure = std::current_exception();
      }
      {
        std::lock_guard lock(mutex_);
        if (stop_) return;
        if (failure) error_ = failure;
        else ready_ = std::move(built);
      }
      changed_.notify_all();
      if (failure) return;
    }
  }

  std::shared_ptr<const std::vector<slice_sample>> slices_;
  batch_loader_options options_;
  std::vector<index_t> pool_;
  std::vector<index_t> order_;
  index_t cached_epoch_ = -1;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::optional<slice_batch> ready_;
  std::exception_ptr error_;
  bool stop_ = false;
  index_t consumed_ = options_.first_batch;
  std::thread worker_;  // last: starts after every other member is initialised
};

}  // namespace modelmix::data
