#pragma once
// A training run on disk (the RUN_DIR of train / predict / evaluate --run):
//   RUN_DIR/run.json               what was trained: method, tasks (name = folder), network, size, ...
//   RUN_DIR/checkpoint.safetensors weights of every task's network ("<task>.<state_dict name>"),
//                                  optimizer state and step; replaced atomically
//   RUN_DIR/best.safetensors       the same at the step with the best validation Dice (train --val)
//   RUN_DIR/curves.csv, curves.png losses and validation Dice against the step (train)
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "files.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/data/label_set.hpp"
#include "modelmix/data/split.hpp"
#include "modelmix/method/trainer.hpp"
#include "modelmix/models/unet.hpp"
#include "validate.hpp"

namespace modelmix_cardiac {

struct task_spec {
  std::string name;
  std::filesystem::path folder;
  std::vector<std::string> scribbled;  // cases whose scribbles train (recorded in run.json)
  modelmix::index_t scribbled_repeat = 0;  // copies of each scribbled slice per epoch; 0 = automatic
  std::string split = "seeded";            // which volumes keep scribbles: seeded shuffle or first in sorted order
};

// "NAME=DIR" → {NAME, DIR}; the option name goes into the error.
inline task_spec parse_task_spec(const std::string& text, const char* option = "--task") {
  const auto eq = text.find('=');
  MODELMIX_REQUIRE(eq != std::string::npos && eq > 0 && eq + 1 < text.size(), option, " '", text,
                   "': expected NAME=DIR, e.g. acdc=../shared/data/acdc/train");
  const std::string name = text.substr(0, eq);
  for (char c : name)
    MODELMIX_REQUIRE(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-', option, " '", text,
                     "': task names may use letters, digits, '_' and '-'");
  return {name, text.substr(eq + 1), {}, 0, "seeded"};
}

struct run_config {
  std::string preset = "none";  // or "reference": the original code's choices (method/reference.hpp)
  std::string method = "modelmix";
  std::vector<task_spec> tasks;
  std::vector<std::string> val;  // NAME=DIR validation folders of train --val
  std::string label_set = "acdc";
  modelmix::index_t size = 256, width = 16, batch = 8, iters = 1000, shots = 5;
  int depth = 5;
  double lr = 1e-3;
  std::string schedule = "poly";  // constant | poly | cosine, over iters
  std::uint64_t seed = 42;
  // Cadence, not configuration: a resume keeps these unless they are given again.
  modelmix::index_t val_every = 100, checkpoint_every = 100;
  // Where the latest session trained, {"kind": "cpu"|"cuda", "name": ...}: a record, not
  // configuration (a checkpoint resumes on either device).
  nlohmann::json device = nlohmann::json(nullptr);

  [[nodiscard]] modelmix::models::unet_options network() const {
    return {.in_channels = 1, .classes = 4, .width = width, .depth = depth};
  }
  [[nodiscard]] const task_spec& task(const std::string& name, const std::filesystem::path& run) const {
    for (const auto& t : tasks)
      if (t.name == name) return t;
    std::string known;
    for (const auto& t : tasks) known += (known.empty() ? "" : ", ") + t.name;
    throw modelmix::error(modelmix::cat("run ", run.string(), " has no task '", name, "' (it has: ", known, ")"));
  }
};

// The ranges of a run's settings, for the command line (prefix "--": "--lr inf: ...") and for
// run.json on load (prefix "": a damaged or hand-edited run.json is refused before training).
inline void check_run_config(const run_config& c, const std::string& prefix) {
  const auto name = [&](const char* setting) { return prefix + setting; };
  require_finite_in(name("lr").c_str(), c.lr, 0.0, 1.0);
  require_in_range(name("iters").c_str(), c.iters, 1, 100'000'000);
  require_in_range(name("batch").c_str(), c.batch, 2, 4096);
  require_in_range(name("shots").c_str(), c.shots, 1, 100'000);
  require_in_range(name("val-every").c_str(), c.val_every, 1, 100'000'000);
  require_in_range(name("checkpoint-every").c_str(), c.checkpoint_every, 1, 100'000'000);
  require_network_shape(c.size, c.width, c.depth, prefix);
  (void)modelmix::method::parse_training_method(c.method);
  (void)modelmix::data::label_set_by_name(c.label_set);
  MODELMIX_REQUIRE(c.schedule == "constant" || c.schedule == "poly" || c.schedule == "cosine", name("schedule"), ": ",
                   c.schedule, " not in {constant, poly, cosine}");
  MODELMIX_REQUIRE(c.preset == "none" || c.preset == "reference", name("preset"), ": ", c.preset,
                   " not in {none, reference}");
  for (const auto& t : c.tasks) {
    require_in_range(name("scribbled-repeat").c_str(), t.scribbled_repeat, 0, 100'000);
    (void)modelmix::data::parse_split_order(t.split);
  }
}


inline std::filesystem::path run_json(const std::filesystem::path& run) { return run / "run.json"; }
inline std::filesystem::path run_checkpoint(const std::filesystem::path& run) { return run / "checkpoint.safetensors"; }
inline std::filesystem::path run_best_checkpoint(const std::filesystem::path& run) { return run / "best.safetensors"; }
// The checkpoint predict / evaluate / interpolate read: the last one written, or the best
// validation step's (train --val).
inline std::filesystem::path run_checkpoint(const std::filesystem::path& run, const std::string& which) {
  MODELMIX_REQUIRE(which == "last" || which == "best", "--checkpoint ", which, ": expected best or last");
  const std::filesystem::path path = which == "best" ? run_best_checkpoint(run) : run_checkpoint(run);
  MODELMIX_REQUIRE(std::filesystem::is_regular_file(path), "--run ", run.string(), ": no ", path.filename().string(),
                   which == "best" ? " (best.safetensors is written by train --val)" : " (has training started?)");
  return path;
}

inline void save_run_config(const std::filesystem::path& run, const run_config& c) {
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& t : c.tasks)
    tasks.push_back({{"name", t.name},
                     {"folder", t.folder.string()},
                     {"scribbled", t.scribbled},
                     {"scribbled_repeat", t.scribbled_repeat},
                     {"split", t.split}});
  const nlohmann::json j{{"preset", c.preset}, {"method", c.method}, {"tasks", tasks},   {"val", c.val},
                         {"label_set", c.label_set}, {"size", c.size},     {"width", c.width}, {"depth", c.depth},
                         {"batch", c.batch},         {"iters", c.iters},   {"shots", c.shots}, {"lr", c.lr},
                         {"schedule", c.schedule},   {"seed", c.seed},     {"val_every", c.val_every},
                         {"checkpoint_every", c.checkpoint_every}, {"device", c.device}};
  write_text_atomically(run_json(run), j.dump(2) + "\n");
}

inline run_config load_run_config(const std::filesystem::path& run) {
  const auto path = run_json(run);
  MODELMIX_REQUIRE(std::filesystem::is_regular_file(path), "--run ", run.string(), ": no run.json (not a training run folder)");
  std::ifstream in(path);
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    run_config c;
    c.method = j.at("method").get<std::string>();
    for (const auto& t : j.at("tasks"))
      c.tasks.push_back({t.at("name").get<std::string>(), t.at("folder").get<std::string>(),
                         t.value("scribbled", std::vector<std::string>{}),
                         t.value("scribbled_repeat", modelmix::index_t(0)), t.value("split", std::string("seeded"))});
    // Runs written before presets and validation folders existed have neither.
    c.preset = j.value("preset", std::string("none"));
    c.val = j.value("val", std::vector<std::string>{});
    c.label_set = j.at("label_set").get<std::string>();
    c.size = j.at("size").get<modelmix::index_t>();
    c.width = j.at("width").get<modelmix::index_t>();
    c.depth = j.at("depth").get<int>();
    c.batch = j.at("batch").get<modelmix::index_t>();
    c.iters = j.at("iters").get<modelmix::index_t>();
    c.shots = j.at("shots").get<modelmix::index_t>();
    c.lr = j.at("lr").get<double>();
    c.schedule = j.value("schedule", std::string("poly"));
    c.seed = j.at("seed").get<std::uint64_t>();
    // Runs written before the cadence was stored resume with the defaults.
    c.val_every = j.value("val_every", c.val_every);
    c.checkpoint_every = j.value("checkpoint_every", c.checkpoint_every);
    c.device = j.value("device", nlohmann::json(nullptr));
    MODELMIX_REQUIRE(!c.tasks.empty(), "no tasks");
    for (const auto& t : c.tasks) (void)parse_task_spec(t.name + "=" + t.folder.string(), "task");
    check_run_config(c, "");
    return c;
  } catch (const nlohmann::json::exception& e) {
    throw modelmix::error(modelmix::cat(path.string(), ": not a valid run description (", e.what(), ")"));
  } catch (const modelmix::error& e) {
    throw modelmix::error(modelmix::cat(path.string(), ": not a valid run description (", e.what(), ")"));
  }
}

// --checkpoint best|last of the commands that read a run.
inline void add_checkpoint_option(CLI::App* cmd, std::string& which) {
  cmd->add_option("--checkpoint", which, "Which checkpoint of the run: last, or best (the best validation step of train --val)")
      ->check(CLI::IsMember({"last", "best"}))
      ->capture_default_str();
}

// The network of one task of a run with its trained weights, from the last or the best
// checkpoint, on `where` (a checkpoint does not depend on the device that wrote it).
inline std::unique_ptr<modelmix::models::UNet<float>> load_task_network(const std::filesystem::path& run,
                                                                        const run_config& c, const std::string& task,
                                                                        const std::string& which = "last",
                                                                        modelmix::device where = modelmix::device::cpu) {
  (void)c.task(task, run);
  auto net = std::make_unique<modelmix::models::UNet<float>>(c.network());
  modelmix::layers::to_device(*net, where);
  const std::filesystem::path checkpoint = run_checkpoint(run, which);
  modelmix::method::restore_network(modelmix::io::load_safetensors(checkpoint), task, *net, checkpoint.string());
  return net;
}

}  // namespace modelmix_cardiac
