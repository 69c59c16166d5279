// modelmix-cardiac train: ModelMix (or a baseline) on NIfTI folders laid out like
// ../shared/data/<dataset>/<split>/{images,scribbles}. Writes RUN_DIR/run.json and a checkpoint
// every --checkpoint-every steps (atomically), so an interrupted run continues with --resume.
#include <cmath>
#include <cstdio>
#include <set>

#include "commands.hpp"
#include "device_option.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/data/slices.hpp"
#include "modelmix/data/split.hpp"
#include "modelmix/io/nifti.hpp"
#include "modelmix/method/reference.hpp"
#include "curves.hpp"
#include "run_folder.hpp"
#include "run_support.hpp"
#include "validate.hpp"

namespace modelmix_cardiac {
namespace {

using namespace modelmix;

struct train_settings {
  std::vector<std::string> tasks;
  std::vector<std::string> repeats, splits;  // NAME=K, NAME=seeded|sorted
  std::filesystem::path out;
  run_config config;
  bool resume = false;
  int threads = 0;
  double memory_budget = 0;  // GiB; 0 = 80 % of the machine's memory
  std::string on_nonfinite = "stop";
  std::string device = "cpu";
  index_t poison_step = -1;   // hidden test hook: a NaN in the classifier bias of task 0 at this step
  std::set<std::string> given;  // options given on the command line (a resume compares them with run.json)
};

// Ranges of the numeric settings, checked before anything is read or written.
void check_settings(const train_settings& s, const run_config& c) {
  check_run_config(c, "--");
  (void)memory_budget_bytes(s.memory_budget);
  (void)method::parse_nonfinite_policy(s.on_nonfinite);
}

// A resumed run continues the stored configuration; an option given again must agree with it.
void check_resume_options(const train_settings& s, const run_config& given, const run_config& saved) {
  const auto same = [&](const char* option, const std::string& stored, const std::string& now) {
    MODELMIX_REQUIRE(!s.given.contains(option) || stored == now, "--resume: ", option, " ", now, " differs from ",
                     stored, " stored in ", run_json(s.out).string(), " (a resumed run keeps its configuration)");
  };
  const auto text = [](auto v) { return modelmix::cat(v); };
  std::string stored_tasks, given_tasks;
  for (const auto& t : saved.tasks) stored_tasks += (stored_tasks.empty() ? "" : " ") + t.name + "=" + t.folder.string();
  for (const auto& t : s.tasks) given_tasks += (given_tasks.empty() ? "" : " ") + t;
  same("--task", stored_tasks, given_tasks);
  same("--method", saved.method, given.method);
  same("--labels-set", saved.label_set, given.label_set);
  same("--width", text(saved.width), text(given.width));
  same("--depth", text(saved.depth), text(given.depth));
  same("--size", text(saved.size), text(given.size));
  same("--batch", text(saved.batch), text(given.batch));
  same("--shots", text(saved.shots), text(given.shots));
  same("--lr", text(saved.lr), text(given.lr));
  same("--schedule", saved.schedule, given.schedule);
  same("--seed", text(saved.seed), text(given.seed));
  same("--preset", saved.preset, given.preset);
  const auto joined = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& x : v) out += (out.empty() ? "" : " ") + x;
    return out;
  };
  same("--val", joined(saved.val), joined(given.val));
  MODELMIX_REQUIRE(s.repeats.empty() && s.splits.empty(),
                   "--resume: --scribbled-repeat and --split are settings of the run stored in ",
                   run_json(s.out).string(), " (a resumed run keeps its configuration)");
}

// The dataset a task name stands for under --preset reference ("acdc", "acdc_lv" → acdc; "mscmr" →
// mscmr), or "" for other names.
std::string reference_dataset(const std::string& task) {
  for (const char* d : {"acdc", "mscmr"})
    if (task.starts_with(d)) return d;
  return "";
}

// --preset reference: the original code's defaults for every option not given on the command line.
void apply_preset_defaults(const train_settings& s, run_config& c) {
  if (c.preset != "reference") return;
  const method::trainer_options r = method::reference_trainer_options();
  const auto unless_given = [&](const char* option, auto& field, auto value) {
    if (!s.given.contains(option)) field = value;
  };
  unless_given("--method", c.method, std::string(method::to_string(r.method)));
  unless_given("--width", c.width, r.network.width);
  unless_given("--depth", c.depth, r.network.depth);
  unless_given("--batch", c.batch, r.batch_size);
  unless_given("--size", c.size, method::reference_task_data("acdc").crop_size);
  unless_given("--lr", c.lr, std::get<optim::constant_lr>(r.schedule).lr);
  unless_given("--schedule", c.schedule, std::string("constant"));
}

// --scribbled-repeat NAME=K and --split NAME=seeded|sorted, then (--preset reference) the original
// loader's choice for every task left unset.
void apply_task_options(const train_settings& s, run_config& c) {
  const auto task_of = [&](const std::string& text, const char* option) -> std::pair<task_spec*, std::string> {
    const task_spec parsed = parse_task_spec(text, option);
    for (auto& t : c.tasks)
      if (t.name == parsed.name) return {&t, parsed.folder.string()};
    throw modelmix::error(modelmix::cat(option, " ", text, ": no task named '", parsed.name, "' (give --task ",
                                        parsed.name, "=DIR)"));
  };
  std::set<std::string> repeat_given, split_given;
  for (const auto& text : s.repeats) {
    auto [task, value] = task_of(text, "--scribbled-repeat");
    char* end = nullptr;
    const long long k = std::strtoll(value.c_str(), &end, 10);
    MODELMIX_REQUIRE(end && *end == '\0' && k >= 1 && k <= 100'000, "--scribbled-repeat ", text,
                     ": expected NAME=K with K a whole number in [1, 100000]");
    task->scribbled_repeat = k;
    repeat_given.insert(task->name);
  }
  for (const auto& text : s.splits) {
    auto [task, value] = task_of(text, "--split");
    MODELMIX_REQUIRE(value == "seeded" || value == "sorted", "--split ", text, ": expected NAME=seeded or NAME=sorted");
    task->split = value;
    split_given.insert(task->name);
  }
  if (c.preset != "reference") return;
  for (auto& t : c.tasks) {
    const std::string dataset = reference_dataset(t.name);
    MODELMIX_REQUIRE(!dataset.empty() || (repeat_given.contains(t.name) && split_given.contains(t.name)),
                     "--preset reference: task '", t.name, "' is not named acdc... or mscmr..., so the original's loader "
                     "choices are unknown; give --scribbled-repeat ", t.name, "=K and --split ", t.name, "=seeded|sorted");
    if (dataset.empty()) continue;
    const method::reference_data_choices d = method::reference_task_data(dataset);
    if (!repeat_given.contains(t.name)) t.scribbled_repeat = d.scribbled_repeat;
    if (!split_given.contains(t.name)) t.split = data::to_string(d.split);
  }
}

// The trainer's options for a run: modelmix's defaults, or the original's under --preset reference,
// with the run's own settings on top.
method::trainer_options trainer_options_of(const run_config& c) {
  method::trainer_options o = c.preset == "reference" ? method::reference_trainer_options() : method::trainer_options{};
  o.method = method::parse_training_method(c.method);
  o.network = c.network();
  if (c.schedule == "poly")
    o.schedule = optim::poly_lr{.lr = c.lr, .total_steps = c.iters, .power = 0.9};
  else if (c.schedule == "cosine")
    o.schedule = optim::cosine_lr{.lr = c.lr, .total_steps = c.iters};
  else
    o.schedule = optim::constant_lr{c.lr};
  o.batch_size = c.batch;
  o.seed = c.seed;
  return o;
}

// The --val folders, loaded once: NAME must be a training task; DIR needs images/ and labels/.
std::vector<validation_set> load_validation(const run_config& c) {
  std::vector<validation_set> out;
  for (const auto& text : c.val) {
    const task_spec spec = parse_task_spec(text, "--val");
    validation_set v{spec.name, 0, {}};
    bool found = false;
    for (std::size_t t = 0; t < c.tasks.size(); ++t)
      if (c.tasks[t].name == spec.name) v.task = t, found = true;
    MODELMIX_REQUIRE(found, "--val ", text, ": no training task named '", spec.name, "' (its network is the one scored)");
    MODELMIX_REQUIRE(std::filesystem::is_directory(spec.folder), "--val ", text, ": no such folder");
    for (const char* sub : {"images", "labels"}) require_regular_volumes(spec.folder / sub, "--val");
    const data::SplitFiles split = data::scan_split(spec.folder);
    MODELMIX_REQUIRE(split.has_labels && !split.cases.empty(), "--val ", text,
                     ": needs images/ and labels/ with at least one volume (validation scores dense labels)");
    v.cases = data::load_split(split, data::label_set_by_name(c.label_set), io::NiftiReader{});
    out.push_back(std::move(v));
  }
  return out;
}

// One task's training slices: `shots` scribbled volumes chosen with the seed, the rest unlabeled.
// Records the chosen cases in spec.scribbled; a resumed run checks that the choice is unchanged
// (it would not be if the folder gained or lost volumes), since the checkpoint was trained on it.
// `summary` receives the line to print once every task has loaded (so that a bad input
// further on is still the only line on stderr).
method::task_setup load_task(task_spec& spec, const run_config& c, std::uint64_t seed, std::string& summary) {
  for (const char* sub : {"images", "scribbles"}) require_regular_volumes(spec.folder / sub, "--task");
  const data::SplitFiles split = data::scan_split(spec.folder);
  MODELMIX_REQUIRE(split.has_scribbles, "--task ", spec.name, "=", spec.folder.string(),
                   ": no scribbles/ folder next to images/ (training needs scribbles)");
  const std::vector<data::Case> cases = data::load_split(split, data::label_set_by_name(c.label_set), io::NiftiReader{});
  MODELMIX_REQUIRE(c.shots >= 1 && c.shots <= index_t(cases.size()), "--shots ", c.shots, ": task ", spec.name, " has ",
                   cases.size(), " volumes in ", spec.folder.string());
  const data::few_scribble_split chosen =
      data::make_few_scribble_split(index_t(cases.size()), c.shots, seed, data::parse_split_order(spec.split));
  method::task_setup setup{spec.name, {}, {}};
  setup.scribbled_repeat = spec.scribbled_repeat;
  if (c.preset == "reference") setup.augmentation = data::augment_options::reference();
  std::vector<std::string> scribbled;
  for (index_t v = 0; v < index_t(cases.size()); ++v) {
    const data::Case& k = cases[std::size_t(v)];
    const bool is_scribbled = chosen.is_scribbled(v);
    if (is_scribbled) scribbled.push_back(k.name);
    for (auto& s : data::volume_slices(k.image, is_scribbled ? &*k.scribble : nullptr, nullptr, {.size = c.size}, v))
      setup.slices.push_back(std::move(s));
  }
  if (!spec.scribbled.empty())
    MODELMIX_REQUIRE(spec.scribbled == scribbled, "--resume: task ", spec.name, " in ", spec.folder.string(),
                     " now yields other scribbled volumes than the run was trained on (did the folder change?); "
                     "run.json lists them");
  spec.scribbled = scribbled;
  const bool any_stroke =
      std::any_of(setup.slices.begin(), setup.slices.end(), [](const data::slice_sample& x) { return x.has_scribbles(); });
  MODELMIX_REQUIRE(any_stroke, "--task ", spec.name, "=", spec.folder.string(), ": none of its ", scribbled.size(),
                   " scribbled volume(s) (", scribbled.front(), scribbled.size() > 1 ? ", ..." : "",
                   ") holds a scribble stroke (every voxel is 'unlabeled'); ", c.method,
                   " needs scribbles in every task");
  std::string names;
  for (const auto& n : scribbled) names += (names.empty() ? "" : ", ") + n;
  summary = modelmix::cat("task ", spec.name, ": ", cases.size(), " volumes, ", setup.slices.size(), " slices from ",
                          spec.folder.string(), "; scribbled: ", names, "\n");
  return setup;
}

// trainer.step(); at step `poison`, with a NaN in task 0's last parameter (the classifier) for
// that step only: the hidden --test-poison-step of the command-line tests.
method::step_report step_with_test_hook(method::Trainer& trainer, index_t poison) {
  if (trainer.steps_done() != poison) return trainer.step();
  auto params = layers::named_parameters(trainer.network(0));
  float& value = params.back().second->value[0];
  const float kept = value;
  value = std::nanf("");
  struct restore {
    float& v;
    float kept;
    ~restore() { v = kept; }
  } guard{value, kept};
  return trainer.step();
}

void run_train(train_settings s) {
  const device where = parse_device(s.device);
  apply_threads_option(s.threads);
  run_config& c = s.config;
  check_settings(s, c);
  const bool has_checkpoint = std::filesystem::exists(run_checkpoint(s.out));
  if (s.resume) {
    MODELMIX_REQUIRE(has_checkpoint, "--resume: ", run_checkpoint(s.out).string(), " does not exist");
    const run_config saved = load_run_config(s.out);
    check_resume_options(s, c, saved);
    // What a resumed run may change: train for longer, validate or save at another cadence.
    const run_config given = c;
    c = saved;
    if (s.given.contains("--iters")) c.iters = given.iters;
    if (s.given.contains("--val-every")) c.val_every = given.val_every;
    if (s.given.contains("--checkpoint-every")) c.checkpoint_every = given.checkpoint_every;
  } else {
    MODELMIX_REQUIRE(!has_checkpoint, "--out ", s.out.string(),
                     " already holds a run; continue it with --resume or choose another folder");
    MODELMIX_REQUIRE(!s.tasks.empty(), "--task NAME=DIR is required (once per task)");
    for (const auto& t : s.tasks) c.tasks.push_back(parse_task_spec(t));
    apply_preset_defaults(s, c);
    apply_task_options(s, c);
    check_run_config(c, "--");
    (void)method::parse_training_method(c.method);
    (void)data::label_set_by_name(c.label_set);
  }
  MODELMIX_REQUIRE(c.iters > 0, "--iters must be positive, got ", c.iters);
  for (const auto& t : c.tasks)
    MODELMIX_REQUIRE(std::filesystem::is_directory(t.folder), "--task ", t.name, "=", t.folder.string(), ": no such folder");

  method::trainer_options o = trainer_options_of(c);
  o.on_nonfinite = method::parse_nonfinite_policy(s.on_nonfinite);
  o.where = where;
  c.device = device_json(where);
  std::vector<method::task_setup> setups;
  std::string summaries;
  for (std::size_t t = 0; t < c.tasks.size(); ++t) {
    std::string summary;
    setups.push_back(load_task(c.tasks[t], c, c.seed + t, summary));
    summaries += summary;
  }
  std::vector<validation_set> validation = load_validation(c);
  if (where == device::cpu) require_step_fits(o, setups.size(), c.size, s.memory_budget);  // host memory
  method::Trainer trainer(std::move(setups), o);
  std::vector<std::string> task_names;
  for (const auto& t : c.tasks) task_names.push_back(t.name);
  std::vector<std::string> val_names;
  for (const auto& v : validation) val_names.push_back(v.name);
  learning_curves curves(s.out, task_names, val_names);

  ensure_folder(s.out);
  remove_stale_temporaries(s.out);
  index_t saved_step = -1;  // the step of the checkpoint on disk
  if (s.resume) {
    trainer.load(run_checkpoint(s.out));
    saved_step = trainer.steps_done();
    MODELMIX_REQUIRE(c.iters >= saved_step, "--resume: --iters ", c.iters, " is below step ", saved_step,
                     " that the checkpoint ", run_checkpoint(s.out).string(), " has reached");
    curves.resume(saved_step);
  }
  double best = curves.best();
  const double seconds_before = curves.seconds_before();
  double row_start = 0;
  index_t row_first_step = trainer.steps_done();
  std::fputs(summaries.c_str(), stderr);
  if (s.resume) std::fprintf(stderr, "resumed %s at step %lld\n", s.out.string().c_str(), (long long)trainer.steps_done());
  save_run_config(s.out, c);
  progress_line progress(c.method, c.iters);
  progress.resume_from(trainer.steps_done());
  while (trainer.steps_done() < c.iters) {
    method::step_report r;
    try {
      r = step_or_name_it(trainer.steps_done(), [&] { return step_with_test_hook(trainer, s.poison_step); });
    } catch (const method::nonfinite_error& e) {
      throw modelmix::error(modelmix::cat(
          "train: ", e.what(), "; stopped, ",
          saved_step >= 0 ? modelmix::cat(run_checkpoint(s.out).string(), " keeps step ", saved_step)
                          : std::string("no checkpoint written"),
          " (--on-nonfinite skip drops such steps; a smaller --lr may help)"));
    }
    if (r.skipped)
      std::fprintf(stderr, "modelmix-cardiac: warning: step %lld skipped (no update): %s\n", (long long)r.step,
                   r.nonfinite.c_str());
    progress.update(r, trainer);
    curves.add_step(r);
    if (trainer.steps_done() % c.val_every == 0 || trainer.steps_done() == c.iters) {
      const double now = progress.seconds();
      const double rate = double(trainer.steps_done() - row_first_step) / std::max(now - row_start, 1e-9);
      std::vector<std::vector<double>> dice;
      for (const auto& v : validation) dice.push_back(validation_dice(trainer.network(v.task), v, c.size));
      const double score = curves.add_row(trainer.steps_done(), seconds_before + now, rate, dice);
      if (!validation.empty()) {
        std::fprintf(stderr, "step %lld: validation mean Dice %.4f%s\n", (long long)trainer.steps_done(), score,
                     score > best || !std::isfinite(best) ? " (best so far: best.safetensors)" : "");
        if (score > best || !std::isfinite(best)) {
          trainer.save(run_best_checkpoint(s.out));
          best = score;
        }
      }
      // Validation time is not training time: the next window starts after it.
      progress.exclude(progress.seconds() - now);
      row_start = progress.seconds();
      row_first_step = trainer.steps_done();
    }
    if (trainer.steps_done() % c.checkpoint_every == 0 || trainer.steps_done() == c.iters) {
      trainer.save(run_checkpoint(s.out));
      saved_step = trainer.steps_done();
    }
  }
  std::printf("trained %s for %lld steps in %s; checkpoint %s\n", c.method.c_str(), (long long)c.iters,
              progress_line::duration(progress.seconds()).c_str(), run_checkpoint(s.out).string().c_str());
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto s = std::make_shared<train_settings>();
  CLI::App* cmd = app.add_subcommand("train", "Train ModelMix or a baseline on NIfTI folders (images/, scribbles/)");
  cmd->add_option("--task", s->tasks, "NAME=DIR, once per task (DIR holds images/ and scribbles/)");
  cmd->add_option("--out", s->out, "Run folder (run.json, checkpoint.safetensors)")->required();
  cmd->add_option("--preset", s->config.preset,
                  "reference: the original code's choices (docs/method.md) as defaults of the options not given")
      ->check(CLI::IsMember({"none", "reference"}))
      ->capture_default_str();
  cmd->add_option("--method", s->config.method, "modelmix, mixup or pce")->capture_default_str();
  cmd->add_option("--labels-set", s->config.label_set, "Label convention: acdc or mscmr")->capture_default_str();
  cmd->add_option("--shots", s->config.shots, "Scribbled volumes per task (the rest are unlabeled)")->capture_default_str();
  cmd->add_option("--iters", s->config.iters, "Training steps")->capture_default_str();
  cmd->add_option("--batch", s->config.batch, "Slices per task per step")->capture_default_str();
  cmd->add_option("--size", s->config.size, "Crop/pad size S of the slices")->capture_default_str();
  cmd->add_option("--width", s->config.width, "U-Net width (original 64)")->capture_default_str();
  cmd->add_option("--depth", s->config.depth, "U-Net levels")->capture_default_str();
  cmd->add_option("--lr", s->config.lr, "Adam learning rate (at the start of the schedule)")->capture_default_str();
  cmd->add_option("--schedule", s->config.schedule, "Learning-rate schedule over --iters")
      ->check(CLI::IsMember({"constant", "poly", "cosine"}))
      ->capture_default_str();
  cmd->add_option("--seed", s->config.seed, "Seed of the split and the training")->capture_default_str();
  add_threads_option(cmd, s->threads);
  cmd->add_option("--memory-budget", s->memory_budget,
                  "GiB a training step may use; a larger step is refused up front (0 = 80 % of this machine's memory)")
      ->capture_default_str();
  add_device_option(cmd, s->device);
  cmd->add_option("--on-nonfinite", s->on_nonfinite, "NaN/Inf loss or gradient: stop (keep the last checkpoint) or skip the step")
      ->check(CLI::IsMember({"stop", "skip"}))
      ->capture_default_str();
  cmd->add_option("--test-poison-step", s->poison_step, "Test hook: a NaN in the network at this step")->group("");
  cmd->add_option("--checkpoint-every", s->config.checkpoint_every, "Steps between checkpoints")->capture_default_str();
  cmd->add_option("--scribbled-repeat", s->repeats,
                  "NAME=K: copies of each of task NAME's scribbled slices per epoch (default: about as many as unlabeled)");
  cmd->add_option("--split", s->splits,
                  "NAME=seeded|sorted: which volumes of task NAME keep scribbles (a seeded shuffle, or the first --shots "
                  "in sorted order)");
  cmd->add_option("--val", s->config.val,
                  "NAME=DIR: score task NAME's network on DIR (images/, labels/) every --val-every steps; keeps "
                  "best.safetensors");
  cmd->add_option("--val-every", s->config.val_every, "Steps between rows of curves.csv (and validations)")->capture_default_str();
  cmd->add_flag("--resume", s->resume, "Continue the run in --out from its checkpoint");
  cmd->callback([s, cmd] {
    for (const char* o : {"--task", "--method", "--labels-set", "--shots", "--iters", "--batch", "--size", "--width",
                          "--depth", "--lr", "--schedule", "--seed", "--preset", "--val", "--val-every", "--checkpoint-every"})
      if (cmd->count(o) > 0) s->given.insert(o);
    run_train(*s);
  });
}

}  // namespace modelmix_cardiac
