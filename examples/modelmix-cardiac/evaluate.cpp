// evaluate: score a folder of predicted label volumes against a folder of reference labels.
//
//   modelmix-cardiac evaluate --pred DIR --labels DIR --report out/report.json
//                             [--spacing-from labels|pred] [--labels-set acdc|mscmr]
//
// Files pair by case name (<case>.nii.gz or .nii). Every reference case needs a prediction;
// predictions without a reference are ignored with a warning. For each case and structure
// (the label set's classes 1..C−1): Dice, HD95 and ASSD in mm (definitions and the empty-mask
// rule in modelmix/method/metrics.hpp and docs/data.md). Writes report.json (report.hpp,
// docs/report.schema.json: cases, mean ± std per structure, ACDC grouped by ED/ES) and
// report.csv next to it, both atomically, and prints the summary.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "device_option.hpp"
#include "evaluate.hpp"
#include "files.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/data/label_set.hpp"
#include "modelmix/io/nifti.hpp"
#include "modelmix/method/metrics.hpp"
#include "report.hpp"
#include "run_folder.hpp"
#include "validate.hpp"

namespace modelmix_cardiac {

namespace {

namespace data = modelmix::data;
namespace method = modelmix::method;
using nlohmann::json;

std::string list_names(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < 5; ++i) s += (i ? ", " : "") + names[i];
  return names.size() > 5 ? modelmix::cat(s, " and ", names.size() - 5, " more") : s;
}

struct scored_file {
  method::case_result result;
  json files;  // pred, label, spacing_mm, spacing_differs
  bool spacing_differs = false;
};

scored_file score_one(const std::string& name, const fs::path& pred_path, const fs::path& label_path,
                      const data::LabelSet& set, bool spacing_from_pred) {
  const auto pred_raw = modelmix::io::read_volume<float>(pred_path);
  const auto ref_raw = modelmix::io::read_volume<float>(label_path);
  MODELMIX_REQUIRE(pred_raw.voxels.shape() == ref_raw.voxels.shape(), "evaluate: ", pred_path.string(), " has shape ",
                   pred_raw.voxels.shape(), " (Z, Y, X) but its reference ", label_path.string(), " has ",
                   ref_raw.voxels.shape());
  const auto pred = set.to_labels(pred_raw, data::LabelRole::dense, pred_path.string());
  const auto ref = set.to_labels(ref_raw, data::LabelRole::dense, label_path.string());
  const std::array<double, 3> spacing = spacing_from_pred ? pred.spacing : ref.spacing;
  scored_file r{{name, {}}, nullptr, false};
  for (std::size_t a = 0; a < 3; ++a)
    if (std::fabs(pred.spacing[a] - ref.spacing[a]) > 1e-4 * std::max(1.0, ref.spacing[a])) r.spacing_differs = true;
  for (std::size_t k = 0; k < method::cardiac_structures.size(); ++k)
    r.result.scores[k] = method::score_structure(pred, ref, method::cardiac_structures[k].label, spacing);
  r.files = {{"pred", pred_path.string()},
             {"label", label_path.string()},
             {"spacing_mm", spacing},
             {"spacing_differs", r.spacing_differs}};
  return r;
}

}  // namespace

void check_report_path(const fs::path& report) {
  MODELMIX_REQUIRE(report.extension() == ".json", "evaluate: --report ", report.string(),
                   ": must name a .json file (the report; report.csv is written next to it)");
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(report, ec))) return;
  MODELMIX_REQUIRE(fs::is_regular_file(report, ec), "evaluate: --report ", report.string(),
                   " exists and is not a regular file");
  std::ifstream in(report);
  const json existing = json::parse(in, nullptr, false);
  MODELMIX_REQUIRE(!existing.is_discarded() && is_report_document(existing),
                   "evaluate: --report ", report.string(),
                   " exists and is not a report of this program; refusing to overwrite it");
}

task_scores score_folders(const EvaluateOptions& options) {
  const data::LabelSet set = data::label_set_by_name(options.label_set);
  require_regular_volumes(options.pred, "--pred");
  require_regular_volumes(options.labels, "--labels");
  const auto preds = data::list_volumes(options.pred);
  const auto labels = data::list_volumes(options.labels);
  MODELMIX_REQUIRE(!labels.empty(), "evaluate: ", options.labels.string(), " holds no .nii or .nii.gz file");

  std::vector<std::string> missing, extra, names;
  for (const auto& [name, path] : labels) (preds.contains(name) ? names : missing).push_back(name);
  for (const auto& [name, path] : preds)
    if (!labels.contains(name)) extra.push_back(name);
  MODELMIX_REQUIRE(missing.empty(), "evaluate: ", options.pred.string(), " has no prediction for reference case(s) ",
                   list_names(missing), " (files pair by name: <case>.nii.gz)");
  if (!extra.empty())
    std::cerr << "modelmix-cardiac: warning: ignoring " << extra.size() << " prediction(s) without a reference in "
              << options.labels.string() << ": " << list_names(extra) << "\n";

  // Volumes are independent: read and score them in parallel; the first failure in name order is reported.
  const bool from_pred = options.spacing_from == "pred";
  std::vector<std::optional<scored_file>> results(names.size());
  std::vector<std::exception_ptr> errors(names.size());
  const auto n = static_cast<std::ptrdiff_t>(names.size());
#pragma omp parallel for schedule(dynamic)
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    try {
      results[k] = score_one(names[k], preds.at(names[k]), labels.at(names[k]), set, from_pred);
    } catch (...) {
      errors[k] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);

  task_scores t;
  t.source = {{"pred", options.pred.string()}, {"labels", options.labels.string()}, {"spacing_from", options.spacing_from}};
  std::size_t differing = 0;
  for (auto& r : results) {
    t.cases.push_back(r->result);
    t.case_files.push_back(r->files);
    differing += r->spacing_differs;
  }
  std::cout << "evaluated " << t.cases.size() << " case(s), label set " << set.name << ", spacing from "
            << options.spacing_from << "\n";
  if (differing)
    std::cout << "note: " << differing << " case(s) have different spacing in prediction and reference (see report)\n";
  return t;
}

void evaluate_folders(const EvaluateOptions& options) {
  check_report_path(options.report);
  const json doc = report_document("evaluate", options.label_set, {score_folders(options)});
  const fs::path csv = write_report(options.report, doc);
  print_report_summary(std::cout, doc);
  std::cout << "\nwrote " << options.report.string() << " and " << csv.string() << "\n";
}

void add_evaluate_command(CLI::App& app) {
  auto options = std::make_shared<EvaluateOptions>();
  auto run = std::make_shared<RunEvaluateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "evaluate",
      "Score predicted label volumes against reference labels (--pred/--labels), or a trained run on labelled "
      "folders (--run/--task): 3-D Dice, HD95 and ASSD (mm) per case and structure");
  cmd->add_option("--pred", options->pred, "folder of predicted label volumes, <case>.nii.gz");
  cmd->add_option("--labels", options->labels, "folder of reference label volumes with the same case names");
  cmd->add_option("--report", options->report, "report.json to write; report.csv is written next to it");
  cmd->add_option("--spacing-from", options->spacing_from, "whose voxel spacing the distances use")
      ->check(CLI::IsMember({"labels", "pred"}))
      ->capture_default_str();
  cmd->add_option("--labels-set", options->label_set, "label convention (class names and allowed values)")
      ->check(CLI::IsMember({"acdc", "mscmr"}))
      ->capture_default_str();
  cmd->add_option("--run", run->run, "a training run folder (from train); evaluates its networks");
  cmd->add_option("--task", run->tasks, "with --run: NAME=DIR, DIR holding images/ and labels/ (repeatable)");
  add_checkpoint_option(cmd, run->checkpoint);
  add_device_option(cmd, run->device);
  add_threads_option(cmd, run->threads);
  cmd->add_flag("--largest-component", run->largest_component,
                "with --run: keep each structure's largest 3D component before scoring (default: raw predictions)");
  cmd->callback([options, run] {
    apply_threads_option(run->threads);
    if (!run->run.empty()) {
      MODELMIX_REQUIRE(options->pred.empty() && options->labels.empty(), "evaluate: use either --run/--task or --pred/--labels");
      run->report = options->report.empty() ? run->run / "report.json" : options->report;
      evaluate_run(*run);
      return;
    }
    MODELMIX_REQUIRE(!options->pred.empty() && !options->labels.empty() && !options->report.empty(),
                     "evaluate: give --pred, --labels and --report (or --run and --task)");
    evaluate_folders(*options);
  });
}

}  // namespace modelmix_cardiac
