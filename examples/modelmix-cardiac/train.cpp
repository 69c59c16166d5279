// modelmix-cardiac train: ModelMix (or a baseline) on NIfTI folders laid out like
// ../shared/data/<dataset>/<split>/{images,scribbles}. Writes RUN_DIR/run.json and a checkpoint
// every --checkpoint-every steps (atomically), so an interrupted run continues with --resume.
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cstdio>

#include "commands.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/data/slices.hpp"
#include "modelmix/data/split.hpp"
#include "modelmix/io/nifti.hpp"
#include "run_folder.hpp"
#include "run_support.hpp"

namespace modelmix_cardiac {
namespace {

using namespace modelmix;

struct train_settings {
  std::vector<std::string> tasks;
  std::filesystem::path out;
  run_config config;
  index_t checkpoint_every = 100;
  bool resume = false;
  int threads = 0;
};

// One task's training slices: `shots` scribbled volumes chosen with the seed, the rest unlabeled.
// Records the chosen cases in spec.scribbled; a resumed run checks that the choice is unchanged
// (it would not be if the folder gained or lost volumes), since the checkpoint was trained on it.
method::task_setup load_task(task_spec& spec, const run_config& c, std::uint64_t seed) {
  const data::SplitFiles split = data::scan_split(spec.folder);
  MODELMIX_REQUIRE(split.has_scribbles, "--task ", spec.name, "=", spec.folder.string(),
                   ": no scribbles/ folder next to images/ (training needs scribbles)");
  const std::vector<data::Case> cases = data::load_split(split, data::label_set_by_name(c.label_set), io::NiftiReader{});
  MODELMIX_REQUIRE(c.shots >= 1 && c.shots <= index_t(cases.size()), "--shots ", c.shots, ": task ", spec.name, " has ",
                   cases.size(), " volumes in ", spec.folder.string());
  const data::few_scribble_split chosen = data::make_few_scribble_split(index_t(cases.size()), c.shots, seed);
  method::task_setup setup{spec.name, {}, {}};
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
  std::string names;
  for (const auto& n : scribbled) names += (names.empty() ? "" : ", ") + n;
  std::fprintf(stderr, "task %s: %zu volumes, %zu slices from %s; scribbled: %s\n", spec.name.c_str(), cases.size(),
               setup.slices.size(), spec.folder.string().c_str(), names.c_str());
  return setup;
}

void run_train(train_settings s) {
#ifdef _OPENMP
  if (s.threads > 0) omp_set_num_threads(s.threads);
#endif
  MODELMIX_REQUIRE(s.checkpoint_every > 0, "--checkpoint-every must be positive, got ", s.checkpoint_every);
  run_config& c = s.config;
  const bool has_checkpoint = std::filesystem::exists(run_checkpoint(s.out));
  if (s.resume) {
    MODELMIX_REQUIRE(has_checkpoint, "--resume: ", run_checkpoint(s.out).string(), " does not exist");
    const run_config saved = load_run_config(s.out);
    const index_t iters = c.iters;
    c = saved;
    c.iters = iters;  // the only setting a resumed run may change: train for longer
  } else {
    MODELMIX_REQUIRE(!has_checkpoint, "--out ", s.out.string(),
                     " already holds a run; continue it with --resume or choose another folder");
    MODELMIX_REQUIRE(!s.tasks.empty(), "--task NAME=DIR is required (once per task)");
    for (const auto& t : s.tasks) c.tasks.push_back(parse_task_spec(t));
    (void)method::parse_training_method(c.method);
    (void)data::label_set_by_name(c.label_set);
  }
  MODELMIX_REQUIRE(c.iters > 0, "--iters must be positive, got ", c.iters);
  for (const auto& t : c.tasks)
    MODELMIX_REQUIRE(std::filesystem::is_directory(t.folder), "--task ", t.name, "=", t.folder.string(), ": no such folder");

  method::trainer_options o;
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
  std::vector<method::task_setup> setups;
  for (std::size_t t = 0; t < c.tasks.size(); ++t) setups.push_back(load_task(c.tasks[t], c, c.seed + t));
  method::Trainer trainer(std::move(setups), o);

  ensure_folder(s.out);
  if (s.resume) {
    trainer.load(run_checkpoint(s.out));
    std::fprintf(stderr, "resumed %s at step %lld\n", s.out.string().c_str(), (long long)trainer.steps_done());
  }
  save_run_config(s.out, c);
  progress_line progress(c.method, c.iters);
  progress.resume_from(trainer.steps_done());
  while (trainer.steps_done() < c.iters) {
    progress.update(trainer.step(), trainer);
    if (trainer.steps_done() % s.checkpoint_every == 0 || trainer.steps_done() == c.iters)
      trainer.save(run_checkpoint(s.out));
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
  cmd->add_option("--threads", s->threads, "OpenMP threads (0 = default)")->capture_default_str();
  cmd->add_option("--checkpoint-every", s->checkpoint_every, "Steps between checkpoints")->capture_default_str();
  cmd->add_flag("--resume", s->resume, "Continue the run in --out from its checkpoint");
  cmd->callback([s] { run_train(*s); });
}

}  // namespace modelmix_cardiac
