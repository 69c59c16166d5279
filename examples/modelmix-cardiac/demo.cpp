// modelmix-cardiac demo: the whole method on the built-in synthetic phantom, no download.
//
// Two tasks (cine-like and LGE-like phantoms), a few scribbled volumes each plus unlabeled
// ones; ModelMix and the baselines are trained with the same number of steps and evaluated on
// held-out phantom volumes with dense labels (3D Dice / HD95 per structure).
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "commands.hpp"
#include "device_option.hpp"
#include "files.hpp"
#include "modelmix/data/phantom.hpp"
#include "modelmix/data/slices.hpp"
#include "modelmix/data/split.hpp"
#include "report.hpp"
#include "run_support.hpp"
#include "validate.hpp"

namespace modelmix_cardiac {
namespace {

using namespace modelmix;

struct demo_settings {
  std::string out = "modelmix-demo";
  index_t iters = 500;
  index_t batch = 8;
  index_t size = 64;
  index_t width = 16;
  int depth = 4;
  bool largest_component = true;  // post-processing of the evaluated predictions
  double lr = 1e-3;
  index_t train_volumes = 10;  // per task
  // Of which carry scribbles: one count for both tasks, or cine's and lge's. 2 of 10 is the
  // few-scribble regime of the paper (MS-CMR: 5 of 25); docs/results.md measures 1–5.
  std::vector<index_t> scribbled{2};

  [[nodiscard]] index_t scribbled_in(std::size_t task) const { return scribbled[std::min(task, scribbled.size() - 1)]; }
  index_t test_volumes = 6;    // held-out, per task
  std::vector<std::string> methods{"modelmix", "pce"};
  std::uint64_t seed = 42;
  int threads = 0;
  double memory_budget = 0;  // GiB; 0 = 80 % of the machine's memory
  std::string device = "cpu";
};

struct phantom_task {
  std::string name;
  std::vector<data::phantom_case> train, test;
};

phantom_task make_task(data::phantom_modality modality, const demo_settings& s) {
  data::phantom_options o;
  o.modality = modality;
  o.width = o.height = s.size;
  // Different subjects per task (the tasks are different patient cohorts).
  o.seed = s.seed * 7919 + (modality == data::phantom_modality::cine ? 1 : 2);
  phantom_task task{data::to_string(modality), {}, {}};
  for (index_t i = 0; i < s.train_volumes; ++i) task.train.push_back(data::make_phantom_case(o, i));
  for (index_t i = 0; i < s.test_volumes; ++i) task.test.push_back(data::make_phantom_case(o, 100000 + i));
  return task;
}

method::task_setup training_slices(const phantom_task& task, index_t scribbled_volumes, std::uint64_t seed,
                                   const demo_settings& s) {
  const data::few_scribble_split split = data::make_few_scribble_split(index_t(task.train.size()), scribbled_volumes, seed);
  method::task_setup setup{task.name, {}, {}};
  const data::slice_options slicing{.size = s.size};
  for (index_t v = 0; v < index_t(task.train.size()); ++v) {
    const bool scribbled = std::find(split.scribbled.begin(), split.scribbled.end(), v) != split.scribbled.end();
    const auto& c = task.train[std::size_t(v)];
    auto slices = data::volume_slices(c.image, scribbled ? &c.scribble : nullptr, nullptr, slicing, v);
    for (auto& sl : slices) setup.slices.push_back(std::move(sl));
  }
  return setup;
}

method::trainer_options demo_options(const std::string& name, const demo_settings& s) {
  method::trainer_options o;
  o.method = method::parse_training_method(name);
  o.network.width = s.width;
  o.network.depth = s.depth;
  o.schedule = optim::poly_lr{.lr = s.lr, .total_steps = s.iters, .power = 0.9};
  o.batch_size = s.batch;
  o.seed = s.seed;
  o.where = s.device == "cuda" ? device::cuda : device::cpu;
  return o;
}

void run_demo(const demo_settings& s) {
  require_in_range("--iters", s.iters, 1, 100'000'000);
  require_in_range("--batch", s.batch, 2, 4096);
  require_network_shape(s.size, s.width, s.depth);
  require_finite_in("--lr", s.lr, 0.0, 1.0);
  require_in_range("--train-volumes", s.train_volumes, 1, 10'000);
  MODELMIX_REQUIRE(s.scribbled.size() == 1 || s.scribbled.size() == 2,
                   "--scribbled: give one count (both tasks) or two (cine, lge), got ", s.scribbled.size());
  for (index_t n : s.scribbled)
    MODELMIX_REQUIRE(n > 0 && n <= s.train_volumes, "--scribbled must be in [1, --train-volumes], got ", n);
  require_in_range("--test-volumes", s.test_volumes, 1, 10'000);
  MODELMIX_REQUIRE(!s.methods.empty(), "--methods: give at least one of modelmix, mixup, pce");
  for (const auto& m : s.methods) (void)method::parse_training_method(m);
  const device where = parse_device(s.device);
  apply_threads_option(s.threads);
  // Every method's step must fit before any data is made or anything written (two tasks). The
  // budget is host memory: it bounds CPU training (a device's memory is the device's to refuse).
  if (where == device::cpu)
    for (const auto& m : s.methods) require_step_fits(demo_options(m, s), 2, s.size, s.memory_budget);
  ensure_folder(s.out);

  std::fprintf(stderr,
               "modelmix demo: generating the synthetic phantom (2 tasks, %lld training volumes each, %lld / %lld scribbled)\n",
               (long long)s.train_volumes, (long long)s.scribbled_in(0), (long long)s.scribbled_in(1));
  const std::vector<phantom_task> tasks{make_task(data::phantom_modality::cine, s), make_task(data::phantom_modality::lge, s)};

  std::vector<task_scores> reports;
  std::vector<std::vector<std::pair<std::string, method::evaluation_summary>>> table;  // per method: per task
  for (const std::string& name : s.methods) {
    std::vector<method::task_setup> setups;
    for (std::size_t t = 0; t < tasks.size(); ++t)
      setups.push_back(training_slices(tasks[t], s.scribbled_in(t), s.seed + t, s));
    method::Trainer trainer(std::move(setups), demo_options(name, s));

    progress_line progress(name, s.iters);
    while (trainer.steps_done() < s.iters)
      progress.update(step_or_name_it(trainer.steps_done(), [&] { return trainer.step(); }), trainer);
    const double train_seconds = progress.seconds();
    trainer.save(std::filesystem::path(s.out) / (name + ".safetensors"));

    std::vector<std::pair<std::string, method::evaluation_summary>> row;
    for (std::size_t t = 0; t < tasks.size(); ++t) {
      std::vector<method::case_result> cases, raw;
      for (const auto& c : tasks[t].test) {
        cases.push_back(method::evaluate_case(trainer.network(t), c.image, c.label,
                                              {.size = s.size, .largest_component = s.largest_component}));
        if (s.largest_component) raw.push_back(method::evaluate_case(trainer.network(t), c.image, c.label, {.size = s.size}));
      }
      task_scores r;
      r.method = name;
      r.task = tasks[t].name;
      r.postprocessing = s.largest_component ? "largest_component" : "none";
      r.source = {{"images", "synthetic phantom (held-out subjects)"}, {"labels", "phantom ground truth"},
                  {"spacing_from", "labels"}};
      r.cases = cases;
      if (s.largest_component) r.without_postprocessing = raw;
      r.extra = {{"train_seconds", train_seconds}, {"iterations", s.iters}};
      reports.push_back(std::move(r));
      row.emplace_back(tasks[t].name, method::summarize_cases(cases));
      if (s.largest_component) row.emplace_back(tasks[t].name + " raw", method::summarize_cases(raw));
    }
    table.push_back(row);
  }

  // The table: one row per (method, task), Dice mean ± std per structure.
  std::printf("\nHeld-out synthetic volumes (%lld per task), 3D Dice mean ± std, %lld steps each\n",
              (long long)s.test_volumes, (long long)s.iters);
  if (s.largest_component)
    std::printf("(rows marked 'raw': without the largest-connected-component post-processing)\n");
  std::printf("%-10s %-9s %-15s %-15s %-15s %-8s\n", "method", "task", "LV", "Myo", "RV", "mean");
  for (std::size_t m = 0; m < table.size(); ++m)
    for (const auto& [task, summary] : table[m]) {
      std::printf("%-10s %-9s", s.methods[m].c_str(), task.c_str());
      for (std::size_t k = 0; k < method::cardiac_structures.size(); ++k)
        std::printf(" %.3f ± %.3f  ", summary.dice[k].mean, summary.dice[k].std);
      std::printf(" %.3f\n", summary.mean_dice.mean);
    }

  nlohmann::json config{{"iterations", s.iters}, {"batch", s.batch}, {"size", s.size}, {"width", s.width},
                        {"depth", s.depth},      {"lr", s.lr},       {"train_volumes", s.train_volumes},
                        {"scribbled", s.scribbled.size() == 1 ? nlohmann::json(s.scribbled[0]) : nlohmann::json(s.scribbled)},
                        {"test_volumes", s.test_volumes}, {"seed", s.seed},
                        {"largest_component", s.largest_component}};
  const auto report_path = std::filesystem::path(s.out) / "report.json";
  const auto csv_path = write_report(
      report_path, report_document("demo", "acdc", reports,
                                   {{"dataset", "synthetic phantom"}, {"config", config}, {"device", device_json(where)}}));
  std::printf("\nwrote %s and %s\n", report_path.string().c_str(), csv_path.string().c_str());
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto settings = std::make_shared<demo_settings>();
  CLI::App* cmd = app.add_subcommand("demo", "Train ModelMix and the pce baseline on the synthetic phantom and evaluate them");
  cmd->add_option("--out", settings->out, "Output folder (checkpoints, report.json)")->capture_default_str();
  cmd->add_option("--iters", settings->iters, "Training steps per method")->capture_default_str();
  cmd->add_option("--batch", settings->batch, "Slices per task per step")->capture_default_str();
  cmd->add_option("--size", settings->size, "Slice size S (divisible by 2^(depth-1))")->capture_default_str();
  cmd->add_option("--width", settings->width, "U-Net width (channels of the first level)")->capture_default_str();
  cmd->add_option("--depth", settings->depth, "U-Net levels")->capture_default_str();
  cmd->add_option("--lr", settings->lr, "Adam learning rate at the start (poly decay to 0)")->capture_default_str();
  cmd->add_option("--train-volumes", settings->train_volumes, "Training volumes per task")->capture_default_str();
  cmd->add_option("--scribbled", settings->scribbled,
                  "Scribbled training volumes per task: one count for both, or two (cine lge)")
      ->expected(1, 2)
      ->capture_default_str();
  cmd->add_option("--test-volumes", settings->test_volumes, "Held-out volumes per task")->capture_default_str();
  cmd->add_option("--methods", settings->methods, "Methods to train: modelmix, mixup, pce")->capture_default_str();
  cmd->add_option("--seed", settings->seed, "Seed of the data and the training")->capture_default_str();
  add_threads_option(cmd, settings->threads);
  add_device_option(cmd, settings->device);
  cmd->add_option("--memory-budget", settings->memory_budget,
                  "GiB a training step may use; a larger step is refused up front (0 = 80 % of this machine's memory)")
      ->capture_default_str();
  cmd->add_flag("!--no-postprocessing", settings->largest_component,
                "Score raw predictions only (default: keep each structure's largest 3D component, and report both)");
  cmd->callback([settings] { run_demo(*settings); });
}

}  // namespace modelmix_cardiac
