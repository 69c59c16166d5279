#pragma once
// The ModelMix trainer (docs/method.md): K ≥ 2 tasks, one U-Net per task, one optimizer step
// per iteration over the sum of every task's losses. Baselines run in the same harness.
//
// Per task t with partner s ≠ t, batch x (slices) and one-hot scribbles y (unlabeled = 0):
//   p   = f_t(x)
//   pce        L_sup = pCE(p, y) + Dice(p, y)
//   mixup      + L_mix = pCE(f_t(x̃), ỹ),  x̃ = βx + (1−β)x_rev, ỹ likewise, β ~ Beta(a, a) per sample
//              + L_mc  = 1 − mean_{n,c} cos(f_t(x̃), βp + (1−β)p_rev)
//   modelmix   + L_mm  = pCE(f_t^λ(rot x), rot y) + Dice(…)   f_t^λ: one encoder layer (the same
//                        for all tasks this step) mixed λ·θ_t + (1−λ)·θ_s, λ ~ Beta(a, a) per task
//              + L_inv = −mean_{n,c} cos(p, rot⁻¹ f_t^λ(rot x))
//
// Every deliberate decision is a named option (trainer_options). The randomness of step k is
// drawn from a generator seeded with (seed, k), so a run is reproducible and a resumed run
// continues exactly where the interrupted one stopped.
//
// Non-finite values: every logged loss term, each task's total, the step's total and the global
// gradient norm are checked before the optimizer moves. A NaN/Inf either stops training
// (nonfinite_error naming step, task and term; the trainer is left as it was before the step,
// BatchNorm running statistics included) or, with on_nonfinite = skip, drops the step: no
// parameter update, running statistics restored, the step counter still advances.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "modelmix/core/hash.hpp"
#include "modelmix/data/batch_loader.hpp"
#include "modelmix/io/safetensors.hpp"
#include "modelmix/layers/layers.hpp"
#include "modelmix/layers/to_device.hpp"
#include "modelmix/losses/cosine_consistency.hpp"
#include "modelmix/losses/dice.hpp"
#include "modelmix/losses/mixup.hpp"
#include "modelmix/losses/one_hot.hpp"
#include "modelmix/losses/partial_cross_entropy.hpp"
#include "modelmix/mixing/plan.hpp"
#include "modelmix/models/unet.hpp"
#include "modelmix/ops/elementwise.hpp"
#include "modelmix/ops/rotate.hpp"
#include "modelmix/optim/adam.hpp"
#include "modelmix/optim/checkpoint.hpp"
#include "modelmix/optim/clip_grad_norm.hpp"
#include "modelmix/optim/schedules.hpp"

namespace modelmix::method {

enum class training_method { pce, mixup, modelmix };

[[nodiscard]] inline const char* to_string(training_method m) {
  return m == training_method::pce ? "pce" : m == training_method::mixup ? "mixup" : "modelmix";
}
[[nodiscard]] inline training_method parse_training_method(const std::string& s) {
  if (s == "pce") return training_method::pce;
  if (s == "mixup") return training_method::mixup;
  if (s == "modelmix") return training_method::modelmix;
  throw error(cat("unknown method '", s, "' (expected modelmix, mixup or pce)"));
}

// What Trainer::step does when a loss term or the gradient is NaN or infinite.
enum class nonfinite_policy { stop, skip };

[[nodiscard]] inline const char* to_string(nonfinite_policy p) { return p == nonfinite_policy::stop ? "stop" : "skip"; }
[[nodiscard]] inline nonfinite_policy parse_nonfinite_policy(const std::string& s) {
  if (s == "stop") return nonfinite_policy::stop;
  if (s == "skip") return nonfinite_policy::skip;
  throw error(cat("unknown non-finite policy '", s, "' (expected stop or skip)"));
}

// Thrown by Trainer::step under nonfinite_policy::stop.
struct nonfinite_error : error {
  using error::error;
};

// Which encoder layers a virtual model may mix (the original samples among conv and BN).
enum class mixable_set { conv_and_bn, conv, bn };

// The paths of `net`'s encoder Conv2d and/or BatchNorm2d layers, in visiting order: the
// layers a virtual model draws from (and what `interpolate --layers all|conv|bn` mixes).
template <class Net>
std::vector<std::string> encoder_mixable_layers(Net& net, mixable_set set) {
  using T = typename Net::value_type;
  std::vector<std::string> out;
  layers::for_each_layer(net, [&](const std::string& path, auto& leaf) {
    using L = std::remove_cvref_t<decltype(leaf)>;
    if (!models::unet_encoder_layers(path)) return;
    const bool conv = std::is_same_v<L, layers::Conv2d<T>>, bn = std::is_same_v<L, layers::BatchNorm2d<T>>;
    if ((conv && set != mixable_set::bn) || (bn && set != mixable_set::conv)) out.push_back(path);
  });
  return out;
}

struct loss_weights {
  double supervised = 1, mixup = 1, mix_consistency = 1, modelmix = 1, invariance = 1;
};

struct trainer_options {
  training_method method = training_method::modelmix;
  models::unet_options network{};
  optim::adam_options optimizer{.weight_decay = 5e-4};  // the rate comes from `schedule`
  index_t batch_size = 8;
  // How often each scribbled slice enters an epoch's pool. With 5 scribbled volumes among 140
  // (ACDC) most batches would hold no scribble at all; the original repeats the scribbled
  // volumes 40–80×. 0 = automatic: about as many scribbled as unlabeled entries per task.
  index_t scribbled_repeat = 0;
  // Slices without scribbles give the pce baseline no loss, only BatchNorm statistics; by
  // default pce trains on the scribbled slices alone, so its whole batch carries supervision.
  bool unlabeled_slices_in_pce = false;
  double grad_clip = 0;  // max global gradient norm; 0 = off
  nonfinite_policy on_nonfinite = nonfinite_policy::stop;  // NaN/Inf loss or gradient

  // ModelMix decisions (docs/method.md, "Decisions")
  // Which parents of the mixed layer learn from the virtual model's terms; `none` cuts only
  // that layer's parents (the layers around it still learn).
  layers::gradient_policy gradients = layers::gradient_policy::both;
  // The original code's virtual model is a deep copy: its terms train no encoder or decoder
  // layer at all, only the task's head. true reproduces that (and makes `gradients` moot).
  bool detach_virtual_model = false;  // original: true
  layers::bn_stats_policy bn_stats = layers::bn_stats_policy::host;
  mixable_set mixable = mixable_set::conv_and_bn;
  double lambda_alpha = 0.5;  // λ ~ Beta(a, a)
  double mixup_alpha = 0.5;   // β ~ Beta(a, a)
  // Pixels the virtual model's rotation invents (corners): their label in the rotated
  // scribbles. Unlabeled = no supervision. `dice_invented_label`, when set, is their label for
  // the Dice term only: the original's pCE ignores them while its Dice counts them as
  // background (0).
  data::label_t invented_label = data::unlabeled_label;
  std::optional<data::label_t> dice_invented_label;  // original: 0
  // One rotation angle for all tasks of a step (false), or one per task (the original, whose
  // tasks rotate independently).
  bool rotation_per_task = false;  // original: true
  losses::dice_options dice{};                             // original: dice_options::original()
  loss_weights weights{};
  bool shared_initialisation = true;  // original: every task's network starts as a copy of the first
                                      // false: each task draws its own initial weights
  // BatchNorm running statistics come from the clean batches only; the original also folds in
  // the mixed-up batches (true here). Virtual-model passes never update them (as the original,
  // whose virtual model is a throw-away copy).
  bool mixup_updates_bn_stats = false;
  optim::lr_schedule schedule = optim::constant_lr{1e-3};  // original: constant 1e-4

  int ignore_label = data::unlabeled_label;
  double pce_eps = 1e-10;
  std::uint64_t seed = 42;
  // Where the networks, the optimizer state and every step live. device::cuda needs the CUDA
  // build; batches are drawn and their targets formed on the host, then uploaded.
  device where = device::cpu;
};

struct task_setup {
  std::string name;
  std::vector<data::slice_sample> slices;  // training slices (unscribbled ones feed L_mc, L_inv)
  data::augment_options augmentation{};
  // Copies of each scribbled slice per epoch for this task; 0 = trainer_options::scribbled_repeat
  // (the original repeats ACDC's scribbled volumes 80×, MS-CMR's 40×).
  index_t scribbled_repeat = 0;
};

// One task's losses at one step (0 for terms the method does not use).
struct task_losses {
  double supervised = 0, mixup = 0, mix_consistency = 0, modelmix = 0, invariance = 0, total = 0;
};
// The random choices of one task at one step, drawn by the trainer (or fixed by a test).
struct step_draws {
  std::vector<double> betas;    // mixup coefficient per sample
  double lambda = 1;            // ModelMix coefficient of the host
  double angle = 0;             // degrees
  std::string mixed_layer;      // path of the encoder layer mixed in the virtual model
  std::uint64_t dropout_seed = 0;
};

// The mix options of the virtual model as the trainer options say.
inline layers::mix_options virtual_model_options(const trainer_options& o) {
  return {.gradients = o.gradients, .bn_stats = o.bn_stats};
}

// A step's input on the device it runs on: the batch and its targets are formed on the host
// (the loader's work) and uploaded once; on the CPU nothing is copied.
template <class T>
[[nodiscard]] Tensor<T> on_device(Tensor<T> t, device where) {
  return t.where() == where ? std::move(t) : t.to(where);
}

// A loss value for the log: the one read back from the device in a step (no other host round trip).
template <class T>
[[nodiscard]] double loss_value(const Var<T>& loss) {
  return loss.value().on_device() ? double(loss.value().to_host()[0]) : double(loss.value()[0]);
}

// The virtual model's targets: the scribbles rotated by `angle` degrees, one-hot. They differ
// only where rotation invents pixels, and only when o.dice_invented_label is set (then `dice`
// holds the Dice term's own target).
template <class T>
struct vicinal_targets {
  Tensor<T> pce;
  std::optional<Tensor<T>> dice;
};
template <class T>
[[nodiscard]] vicinal_targets<T> rotated_targets(const Tensor<data::label_t>& scribble, double angle,
                                                 const trainer_options& o) {
  const auto target = [&](data::label_t invented) {
    return losses::one_hot<T>(ops::rotate_planes(scribble, angle, invented), int(o.network.classes), o.ignore_label);
  };
  vicinal_targets<T> out{target(o.invented_label), std::nullopt};
  if (o.dice_invented_label) out.dice = target(*o.dice_invented_label);
  return out;
}

// One task's objective (the sum in the header comment) recorded on `tape`. `host` is f_t;
// `virtual_model` mixes f_t (its host) with the partner f_s, re-pointed here at draws.lambda
// and draws.mixed_layer (null unless the method is modelmix); `image` [B, 1, S, S],
// `scribble` [B, S, S] with ignore_label = unlabeled.
template <class T>
[[nodiscard]] Var<T> task_objective(Tape<T>& tape, models::UNet<T>& host, mixing::plan<models::UNet<T>>* virtual_model,
                                    const Tensor<T>& image, const Tensor<data::label_t>& scribble,
                                    const step_draws& draws, const trainer_options& o, task_losses& logged) {
  const int classes = int(o.network.classes);
  const device where = layers::device_of(host);
  const auto input = [&](Tensor<T> t) { return tape.constant(on_device(std::move(t), where)); };
  const Tensor<T> y_onehot = losses::one_hot<T>(scribble, classes, o.ignore_label);
  const Var<T> x = input(image), y = input(y_onehot);
  // Pass 0 is the clean batch, 1 the mixed-up one, 2 the virtual model on the rotated batch.
  const auto ctx = [&](std::uint64_t pass) {
    const bool update = pass == 0 || (pass == 1 && o.mixup_updates_bn_stats);
    return layers::forward_context<T>{.training = true, .seed = draws.dropout_seed + pass, .update_running_stats = update};
  };
  const auto weighted = [](double w, const Var<T>& loss, double& log) {
    log = loss_value(loss);
    return w == 1.0 ? loss : ops::scale(loss, T(w));
  };
  const auto supervised = [&](const Var<T>& p, const Var<T>& target) {
    return ops::add(losses::pce(p, target, o.pce_eps), losses::dice(p, target, o.dice));
  };

  const Var<T> p = host.forward(tape, x, ctx(0));
  Var<T> total = weighted(o.weights.supervised, supervised(p, y), logged.supervised);

  if (o.method != training_method::pce) {
    const Var<T> x_mix = input(losses::mix_with_reversed(image, draws.betas));
    const Var<T> y_mix = input(losses::mix_with_reversed(y_onehot, draws.betas));
    const Var<T> p_mix = host.forward(tape, x_mix, ctx(1));
    total = ops::add(total, weighted(o.weights.mixup, losses::pce(p_mix, y_mix, 1e-5), logged.mixup));
    const Var<T> q = losses::mix_with_reversed(p, draws.betas);
    total = ops::add(total, weighted(o.weights.mix_consistency, losses::cosine_consistency(p_mix, q),
                                     logged.mix_consistency));
  }
  if (o.method == training_method::modelmix) {
    MODELMIX_REQUIRE(virtual_model && &virtual_model->host() == &host,
                     "task_objective: modelmix needs a mix plan whose host is the task's network");
    virtual_model->point(layers::two_way_coefficients(draws.lambda, virtual_model->options()), {draws.mixed_layer});
    const Var<T> x_rot = input(ops::rotate_planes(image, draws.angle, T(0)));
    vicinal_targets<T> targets = rotated_targets<T>(scribble, draws.angle, o);
    const Var<T> y_rot = input(std::move(targets.pce));
    const Var<T> y_rot_dice = targets.dice ? input(std::move(*targets.dice)) : y_rot;
    Var<T> p_mm;
    if (o.detach_virtual_model) {
      std::set<const Parameter<T>*> head;  // the only parameters the virtual model's terms train
      for (auto& [name, param] : layers::named_parameters(host))
        if (name.starts_with("head.")) head.insert(param);
      const trainable_only_guard<T> detached(tape, [&head](const Parameter<T>& q) { return head.contains(&q); });
      p_mm = virtual_model->forward(tape, x_rot, ctx(2));
    } else {
      p_mm = virtual_model->forward(tape, x_rot, ctx(2));
    }
    const Var<T> vicinal = ops::add(losses::pce(p_mm, y_rot, o.pce_eps), losses::dice(p_mm, y_rot_dice, o.dice));
    total = ops::add(total, weighted(o.weights.modelmix, vicinal, logged.modelmix));
    const Var<T> p_back = ops::rotate(p_mm, T(-draws.angle), T(0));
    total = ops::add(total, weighted(o.weights.invariance, losses::cosine_invariance(p, p_back), logged.invariance));
  }
  logged.total = loss_value(total);
  return total;
}

// The same for a host and partner given directly: a plan built for this one call.
template <class T>
[[nodiscard]] Var<T> task_objective(Tape<T>& tape, models::UNet<T>& host, models::UNet<T>& partner,
                                    const Tensor<T>& image, const Tensor<data::label_t>& scribble,
                                    const step_draws& draws, const trainer_options& o, task_losses& logged) {
  if (o.method != training_method::modelmix) return task_objective<T>(tape, host, nullptr, image, scribble, draws, o, logged);
  const layers::mix_options mix = virtual_model_options(o);
  mixing::plan<models::UNet<T>> plan({&host, &partner}, {draws.mixed_layer}, mix,
                                  layers::two_way_coefficients(draws.lambda, mix));
  return task_objective(tape, host, &plan, image, scribble, draws, o, logged);
}

struct step_report {
  index_t step = 0;
  std::vector<task_losses> tasks;
  std::string mixed_layer;  // modelmix: the encoder layer mixed this step
  std::vector<double> angles;  // modelmix: each task's rotation angle (degrees)
  double total = 0;
  bool skipped = false;     // on_nonfinite = skip dropped this step (no update)
  std::string nonfinite;    // what was not finite ("task cine: loss term modelmix is nan"), if anything
};

// A network's parameters and BN buffers in a checkpoint archive, named "<prefix>.<state_dict
// name>" (e.g. "cine.encoder.block1.conv1.weight") like a PyTorch state_dict. Host copies:
// a checkpoint does not say which device trained it.
template <class Net>
void store_network(io::tensor_archive& archive, const std::string& prefix, Net& net) {
  using T = typename Net::value_type;
  for (auto& [name, p] : layers::named_parameters(net)) archive.put(prefix + "." + name, p->value.to_host());
  layers::for_each_buffer(net, [&](const std::string& name, Tensor<T>& b) { archive.put(prefix + "." + name, b.to_host()); });
}

// The inverse of store_network; every tensor must be present with the network's shape, and
// lands on the device the network is on. `source` names the file in error messages.
template <class Net>
void restore_network(const io::tensor_archive& archive, const std::string& prefix, Net& net, const std::string& source) {
  using T = typename Net::value_type;
  auto restore = [&](const std::string& name, Tensor<T>& dst) {
    const std::string key = prefix + "." + name;
    MODELMIX_REQUIRE(archive.contains(key), "checkpoint ", source, " has no tensor '", key, "'");
    Tensor<T> src = archive.get_as<T>(key);
    MODELMIX_REQUIRE(src.shape() == dst.shape(), "checkpoint ", source, ": '", key, "' has shape ", src.shape(),
                     ", the network expects ", dst.shape());
    dst = on_device(std::move(src), dst.where());
  };
  for (auto& [name, p] : layers::named_parameters(net)) restore(name, p->value);
  layers::for_each_buffer(net, [&](const std::string& name, Tensor<T>& b) { restore(name, b); });
}

class Trainer {
 public:
  using T = float;
  using Net = models::UNet<T>;

  Trainer(std::vector<task_setup> tasks, trainer_options options) : options_(std::move(options)) {
    MODELMIX_REQUIRE(!tasks.empty(), "Trainer: no tasks");
    MODELMIX_REQUIRE(options_.method != training_method::modelmix || tasks.size() >= 2,
                     "Trainer: modelmix needs at least 2 tasks, got ", tasks.size());
    MODELMIX_REQUIRE(options_.batch_size >= 2, "Trainer: batch size must be at least 2 (mixup pairs a batch with "
                     "its reverse), got ", options_.batch_size);
    for (std::size_t t = 0; t < tasks.size(); ++t) {
      MODELMIX_REQUIRE(!tasks[t].slices.empty(), "Trainer: task '", tasks[t].name, "' has no training slices");
      for (std::size_t u = 0; u < t; ++u)  // names prefix the checkpoint's tensors
        MODELMIX_REQUIRE(tasks[u].name != tasks[t].name, "Trainer: two tasks are named '", tasks[t].name, "'");
      if (options_.method == training_method::pce && !options_.unlabeled_slices_in_pce) {
        std::erase_if(tasks[t].slices, [](const data::slice_sample& x) { return !x.has_scribbles(); });
        MODELMIX_REQUIRE(!tasks[t].slices.empty(), "Trainer: task '", tasks[t].name,
                         "' has no scribbled slices, and pce trains on scribbles only");
      }
      task_state s;
      s.name = tasks[t].name;
      s.slices = std::make_shared<const std::vector<data::slice_sample>>(std::move(tasks[t].slices));
      s.augmentation = tasks[t].augmentation;
      MODELMIX_REQUIRE(tasks[t].scribbled_repeat >= 0, "Trainer: task '", tasks[t].name, "': scribbled_repeat ",
                       tasks[t].scribbled_repeat, " is negative");
      s.scribbled_repeat = tasks[t].scribbled_repeat;
      // Shared: every task starts from the first task's weights. Otherwise each task draws its own
      // (task 0 keeps the network seed, so its start does not depend on this option).
      models::unet_options net = options_.network;
      if (!options_.shared_initialisation && t > 0) net.seed = mix_seed(options_.network.seed, t);
      s.net = std::make_unique<Net>(net);
      if (options_.shared_initialisation && t > 0) copy_parameters(*tasks_[0].net, *s.net);
      tasks_.push_back(std::move(s));
    }
    // On the device before the optimizer allocates its state beside the parameters.
    modelmix::detail::require_device("Trainer", options_.where);
    for (auto& s : tasks_) layers::to_device(*s.net, options_.where);
    std::vector<std::pair<std::string, Parameter<T>*>> params;
    for (auto& s : tasks_)
      for (auto& [name, p] : layers::named_parameters(*s.net)) params.emplace_back(s.name + "." + name, p);
    optimizer_ = std::make_unique<optim::Adam<T>>(std::move(params), options_.optimizer);
    restart_loaders();
  }

  // One optimisation step over all tasks.
  step_report step() {
    std::mt19937_64 rng(mix_seed(options_.seed, step_));
    step_report report{step_, {}, {}, {}, 0, false, {}};
    Tape<T> tape;
    const std::size_t K = tasks_.size();

    // The layer to mix and the rotation are shared by every task this step.
    const std::vector<std::string> candidates = mixable_candidates();
    if (options_.method == training_method::modelmix)
      report.mixed_layer = candidates[std::uniform_int_distribution<std::size_t>(0, candidates.size() - 1)(rng)];
    const double angle = std::uniform_real_distribution<double>(0.0, 360.0)(rng);

    // BatchNorm running statistics change in the forward pass; a dropped step puts them back.
    std::vector<std::vector<Tensor<T>>> buffers(K);
    for (std::size_t t = 0; t < K; ++t)
      layers::for_each_buffer(*tasks_[t].net, [&](const std::string&, Tensor<T>& b) { buffers[t].push_back(b); });

    Var<T> total;
    for (std::size_t t = 0; t < K; ++t) {
      task_state& task = tasks_[t];
      const data::slice_batch batch = task.loader->next();
      step_draws draws;
      draws.mixed_layer = report.mixed_layer;
      draws.angle = angle;
      draws.dropout_seed = mix_seed(options_.seed, step_ * K + t) & ~std::uint64_t(0xff);
      if (options_.method != training_method::pce)
        draws.betas = losses::sample_betas(batch.image.dim(0), options_.mixup_alpha, rng);
      const std::size_t s = options_.method == training_method::modelmix ? partner(t, rng) : t;
      if (options_.method == training_method::modelmix) {
        draws.lambda = losses::sample_beta(options_.lambda_alpha, rng);
        // Drawn after everything else, so the shared-angle stream is unchanged by this option.
        if (options_.rotation_per_task) draws.angle = std::uniform_real_distribution<double>(0.0, 360.0)(rng);
        report.angles.push_back(draws.angle);
      }
      task_losses losses;
      mixing::plan<Net>* virtual_model = options_.method == training_method::modelmix ? &plan(t, s) : nullptr;
      const Var<T> task_total =
          task_objective(tape, *task.net, virtual_model, batch.image, batch.scribble, draws, options_, losses);
      report.tasks.push_back(losses);
      total = t == 0 ? task_total : ops::add(total, task_total);
    }

    report.total = loss_value(total);
    report.nonfinite = nonfinite_losses(report);
    if (report.nonfinite.empty()) {
      optimizer_->zero_grad();
      tape.backward(total);
      report.nonfinite = nonfinite_gradient();
    }
    if (!report.nonfinite.empty()) {
      for (std::size_t t = 0; t < K; ++t) {
        std::size_t i = 0;
        layers::for_each_buffer(*tasks_[t].net, [&](const std::string&, Tensor<T>& b) { b = buffers[t][i++]; });
      }
      if (options_.on_nonfinite == nonfinite_policy::stop) {
        restart_loaders();  // the trainer is as it was before this step
        throw nonfinite_error(cat("step ", step_, ": ", report.nonfinite));
      }
      report.skipped = true;
      ++step_;
      return report;
    }
    if (options_.grad_clip > 0) optim::clip_grad_norm(optimizer_->parameters(), options_.grad_clip, gradient_norm_);
    optimizer_->set_lr(optim::lr_at(options_.schedule, step_));
    optimizer_->step();
    ++step_;
    return report;
  }

  [[nodiscard]] index_t steps_done() const { return step_; }
  [[nodiscard]] std::size_t task_count() const { return tasks_.size(); }
  [[nodiscard]] const std::string& task_name(std::size_t t) const { return tasks_[t].name; }
  [[nodiscard]] Net& network(std::size_t t) { return *tasks_[t].net; }
  [[nodiscard]] const trainer_options& options() const { return options_; }
  // Copies of each scribbled slice in task t's epoch (its own setting, else the trainer's, else balanced).
  [[nodiscard]] index_t scribbled_repeat(std::size_t t) const {
    const task_state& s = tasks_[t];
    return s.scribbled_repeat > 0 ? s.scribbled_repeat
           : options_.scribbled_repeat > 0 ? options_.scribbled_repeat
                                           : balanced_repeat(*s.slices);
  }

  // Checkpoint: every task's parameters and BN buffers under "<task>.<state_dict name>",
  // the optimizer's state, and the step counter; written atomically (io::save_safetensors).
  void save(const std::filesystem::path& path) {
    io::tensor_archive archive;
    for (auto& task : tasks_) store_network(archive, task.name, *task.net);
    optim::save_optimizer(archive, *optimizer_);
    archive.put("trainer.step", Tensor<std::int64_t>(Shape{}, step_));
    archive.metadata["trainer.method"] = to_string(options_.method);
    archive.metadata["trainer.seed"] = std::to_string(options_.seed);
    io::save_safetensors(path, archive);
  }

  // Restores a checkpoint written by save() for the same tasks and network configuration.
  void load(const std::filesystem::path& path) {
    const io::tensor_archive archive = io::load_safetensors(path);
    for (auto& task : tasks_) restore_network(archive, task.name, *task.net, path.string());
    optim::load_optimizer(archive, *optimizer_);
    MODELMIX_REQUIRE(archive.contains("trainer.step"), "checkpoint ", path.string(), " has no 'trainer.step'");
    step_ = archive.get<std::int64_t>("trainer.step")[0];
    restart_loaders();
  }

 private:
  struct task_state {
    std::string name;
    std::shared_ptr<const std::vector<data::slice_sample>> slices;
    data::augment_options augmentation;
    index_t scribbled_repeat = 0;
    std::unique_ptr<Net> net;
    std::unique_ptr<data::batch_loader> loader;
  };

  // The first non-finite logged loss ("task cine: loss term modelmix is nan"), or "".
  [[nodiscard]] std::string nonfinite_losses(const step_report& r) const {
    for (std::size_t t = 0; t < r.tasks.size(); ++t) {
      const task_losses& l = r.tasks[t];
      const std::pair<const char*, double> terms[] = {{"supervised", l.supervised}, {"mixup", l.mixup},
                                                      {"mix_consistency", l.mix_consistency}, {"modelmix", l.modelmix},
                                                      {"invariance", l.invariance}, {"total", l.total}};
      for (const auto& [term, v] : terms)
        if (!std::isfinite(v)) return cat("task ", tasks_[t].name, ": loss term ", term, " is ", v);
    }
    if (!std::isfinite(r.total)) return cat("the summed loss of all tasks is ", r.total);
    return {};
  }

  // The first parameter whose gradient holds a NaN/Inf, with the global norm, or "". On a
  // device the norm is reduced there and only its value comes back; the host walk that names
  // the culprit runs only when it is not finite.
  [[nodiscard]] std::string nonfinite_gradient() {
    if (options_.where != device::cpu) {
      optim::gradient_norm(optimizer_->parameters(), gradient_norm_);
      if (std::isfinite(gradient_norm_.to_host()[0])) return {};
    }
    double sum = 0;
    std::string first;
    for (const auto& [name, p] : optimizer_->parameters()) {
      Tensor<T> host;  // a gradient on the CUDA device is read through a host copy
      const Tensor<T>& g = p->grad.on_device() ? (host = p->grad.to_host()) : p->grad;
      const index_t n = g.numel();
      double part = 0;
#pragma omp parallel for reduction(+ : part) if (n > 32768)
      for (index_t i = 0; i < n; ++i) part += double(g[i]) * double(g[i]);
      if (!std::isfinite(part) && first.empty()) first = name;
      sum += part;
    }
    if (std::isfinite(sum)) return {};
    const auto dot = first.find('.');
    const std::string task = dot == std::string::npos ? first : first.substr(0, dot);
    return cat("task ", task, ": gradient norm is ", std::sqrt(sum), " (first non-finite in ", first, ")");
  }

  // An independent stream seed for (seed, k).
  static std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t k) { return splitmix64(splitmix64(seed) ^ k); }

  static void copy_parameters(Net& from, Net& to) {
    auto src = layers::named_parameters(from);
    auto dst = layers::named_parameters(to);
    for (std::size_t i = 0; i < src.size(); ++i) dst[i].second->value = src[i].second->value;
  }

  // The loaders' batch streams are functions of (seed, batch index), so a resumed run picks up
  // the stream at the step it stopped.
  void restart_loaders() {
    for (std::size_t t = 0; t < tasks_.size(); ++t) {
      tasks_[t].loader.reset();
      data::batch_loader_options o;
      o.batch_size = options_.batch_size;
      o.seed = mix_seed(options_.seed, 1000003 + t);
      o.augmentation = tasks_[t].augmentation;
      o.first_batch = step_;
      o.scribbled_repeat = scribbled_repeat(t);
      tasks_[t].loader = std::make_unique<data::batch_loader>(tasks_[t].slices, o);
    }
  }

  static index_t balanced_repeat(const std::vector<data::slice_sample>& slices) {
    index_t scribbled = 0;
    for (const auto& s : slices) scribbled += s.has_scribbles() ? 1 : 0;
    const index_t unlabeled = index_t(slices.size()) - scribbled;
    return scribbled == 0 ? 1 : std::max<index_t>(1, unlabeled / scribbled);
  }

  std::vector<std::string> mixable_candidates() { return encoder_mixable_layers(*tasks_[0].net, options_.mixable); }

  // The virtual model of host t with partner s: built on first use over every candidate layer,
  // then re-pointed each step.
  mixing::plan<Net>& plan(std::size_t t, std::size_t s) {
    std::unique_ptr<mixing::plan<Net>>& p = plans_[{t, s}];
    if (!p)
      p = std::make_unique<mixing::plan<Net>>(std::vector<Net*>{tasks_[t].net.get(), tasks_[s].net.get()},
                                           mixable_candidates(), virtual_model_options(options_),
                                           std::vector<double>{1.0, 0.0});
    return *p;
  }

  std::size_t partner(std::size_t t, std::mt19937_64& rng) const {
    const std::size_t K = tasks_.size();
    if (K == 2) return 1 - t;
    const std::size_t r = std::uniform_int_distribution<std::size_t>(0, K - 2)(rng);
    return r >= t ? r + 1 : r;
  }

  trainer_options options_;
  std::vector<task_state> tasks_;
  std::unique_ptr<optim::Adam<T>> optimizer_;
  Tensor<double> gradient_norm_;  // device steps: reused every step (no allocation)
  std::map<std::pair<std::size_t, std::size_t>, std::unique_ptr<mixing::plan<Net>>> plans_;
  index_t step_ = 0;
};

}  // namespace modelmix::method
