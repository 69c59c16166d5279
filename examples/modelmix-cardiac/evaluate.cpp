// evaluate: score a folder of predicted label volumes against a folder of reference labels.
//
//   modelmix-cardiac evaluate --pred DIR --labels DIR --report out/report.json
//                             [--spacing-from labels|pred] [--labels-set acdc|mscmr]
//
// Files pair by case name (<case>.nii.gz or .nii). Every reference case needs a prediction;
// predictions without a reference are ignored with a warning. For each case and structure
// (the label set's classes 1..C−1): Dice, HD95 and ASSD in mm (definitions and the empty-mask
// rule in modelmix/method/metrics.hpp and docs/data.md). Writes report.json (cases, summary
// mean ± std per structure, ACDC grouped by ED/ES) and report.csv next to it, both atomically,
// and prints the summary.
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
#include "evaluate.hpp"
#include "files.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/data/label_set.hpp"
#include "modelmix/io/nifti.hpp"
#include "modelmix/method/metrics.hpp"

namespace modelmix_cardiac {

namespace {

namespace data = modelmix::data;
namespace method = modelmix::method;
using nlohmann::json;

struct CaseResult {
  std::string name;
  fs::path pred, label;
  std::array<double, 3> spacing{};
  bool spacing_differs = false;
  method::CardiacPhase phase = method::CardiacPhase::unknown;
  std::vector<method::StructureScore> scores;  // one per structure
};

std::string list_names(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < 5; ++i) s += (i ? ", " : "") + names[i];
  return names.size() > 5 ? modelmix::cat(s, " and ", names.size() - 5, " more") : s;
}

CaseResult score_one(const std::string& name, const fs::path& pred_path, const fs::path& label_path,
                     const data::LabelSet& set, bool spacing_from_pred) {
  const auto pred_raw = modelmix::io::read_volume<float>(pred_path);
  const auto ref_raw = modelmix::io::read_volume<float>(label_path);
  MODELMIX_REQUIRE(pred_raw.voxels.shape() == ref_raw.voxels.shape(), "evaluate: ", pred_path.string(), " has shape ",
                   pred_raw.voxels.shape(), " (Z, Y, X) but its reference ", label_path.string(), " has ",
                   ref_raw.voxels.shape());
  const auto pred = set.to_labels(pred_raw, data::LabelRole::dense, pred_path.string());
  const auto ref = set.to_labels(ref_raw, data::LabelRole::dense, label_path.string());
  CaseResult r{
      name, pred_path, label_path, spacing_from_pred ? pred.spacing : ref.spacing, false, method::CardiacPhase::unknown,
      {}};
  for (std::size_t a = 0; a < 3; ++a)
    if (std::fabs(pred.spacing[a] - ref.spacing[a]) > 1e-4 * std::max(1.0, ref.spacing[a])) r.spacing_differs = true;
  for (int c = 1; c < set.num_classes(); ++c)
    r.scores.push_back(method::score_structure(pred, ref, static_cast<data::label_t>(c), r.spacing));
  return r;
}

json number_or_null(const std::optional<double>& v) { return v && std::isfinite(*v) ? json(*v) : json(nullptr); }

json summary_json(const method::Summary& s) {
  return {{"mean", number_or_null(s.n ? std::optional(s.mean) : std::nullopt)},
          {"std", number_or_null(s.n ? std::optional(s.std) : std::nullopt)},
          {"n", s.n},
          {"n_undefined", s.n_undefined}};
}

struct StructureSummary {
  method::Summary dice, hd95, assd;
  std::map<std::string, int> status;
};

StructureSummary summarize_structure(const std::vector<const CaseResult*>& cases, std::size_t k) {
  std::vector<std::optional<double>> dice, hd95, assd;
  StructureSummary s;
  for (const char* st : {"ok", "both_empty", "pred_empty", "ref_empty"}) s.status[st] = 0;
  for (const CaseResult* c : cases) {
    const auto& score = c->scores[k];
    dice.emplace_back(score.dice);
    hd95.push_back(score.hd95);
    assd.push_back(score.assd);
    ++s.status[method::to_string(score.status)];
  }
  s.dice = method::summarize(dice);
  s.hd95 = method::summarize(hd95);
  s.assd = method::summarize(assd);
  return s;
}

json group_json(const std::vector<const CaseResult*>& cases, const data::LabelSet& set,
                std::vector<std::pair<std::string, StructureSummary>>& table) {
  json g;
  g["n_cases"] = cases.size();
  std::vector<std::optional<double>> mean_dice, mean_hd95, mean_assd;
  for (int c = 1; c < set.num_classes(); ++c) {
    const auto s = summarize_structure(cases, static_cast<std::size_t>(c - 1));
    g[set.classes[static_cast<std::size_t>(c)]] = {{"dice", summary_json(s.dice)},
                                                   {"hd95_mm", summary_json(s.hd95)},
                                                   {"assd_mm", summary_json(s.assd)},
                                                   {"status_counts", s.status}};
    table.emplace_back(set.classes[static_cast<std::size_t>(c)], s);
    mean_dice.push_back(s.dice.n ? std::optional(s.dice.mean) : std::nullopt);
    mean_hd95.push_back(s.hd95.n ? std::optional(s.hd95.mean) : std::nullopt);
    mean_assd.push_back(s.assd.n ? std::optional(s.assd.mean) : std::nullopt);
  }
  g["mean_over_structures"] = {{"dice", number_or_null(method::summarize(mean_dice).mean)},
                               {"hd95_mm", number_or_null(method::summarize(mean_hd95).mean)},
                               {"assd_mm", number_or_null(method::summarize(mean_assd).mean)}};
  return g;
}

// Left-aligned in `width` columns, counting UTF-8 code points (the "±" is two bytes).
std::string pad(const std::string& s, std::size_t width) {
  std::size_t columns = 0;
  for (unsigned char c : s) columns += (c & 0xC0) != 0x80;
  return s + std::string(columns < width ? width - columns : 1, ' ');
}

std::string format_summary(const method::Summary& s, int precision) {
  if (s.n == 0) return "undefined";
  std::ostringstream out;
  out << std::fixed << std::setprecision(precision) << s.mean << " ± " << s.std;
  if (s.n_undefined) out << " (" << s.n_undefined << " undef.)";
  return out.str();
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
  MODELMIX_REQUIRE(!existing.is_discarded() && existing.is_object() &&
                       (existing.contains("cases") || existing.contains("reports")),
                   "evaluate: --report ", report.string(),
                   " exists and is not a report of this program; refusing to overwrite it");
}

void evaluate_folders(const EvaluateOptions& options) {
  const data::LabelSet set = data::label_set_by_name(options.label_set);
  check_report_path(options.report);
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
  std::vector<std::optional<CaseResult>> results(names.size());
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

  const auto phases = set.name == "acdc" ? method::acdc_phases(names) : std::map<std::string, method::CardiacPhase>{};
  std::vector<const CaseResult*> all, ed, es;
  for (auto& r : results) {
    if (const auto it = phases.find(r->name); it != phases.end()) r->phase = it->second;
    all.push_back(&*r);
    if (r->phase == method::CardiacPhase::ed) ed.push_back(&*r);
    if (r->phase == method::CardiacPhase::es) es.push_back(&*r);
  }

  // ---- report.json ----
  json report;
  report["command"] = "modelmix-cardiac evaluate";
  report["pred_dir"] = options.pred.string();
  report["labels_dir"] = options.labels.string();
  report["label_set"] = set.name;
  report["spacing_from"] = options.spacing_from;
  report["definitions"] = {
      {"dice", "2|A∩B| / (|A|+|B|) per 3-D volume and structure"},
      {"surface", "voxels of the mask with a 6-neighbour outside it (volume border counts as outside)"},
      {"hd95_mm", "95th percentile (linear interpolation) of the pooled directed surface distances A→B and B→A, in mm"},
      {"assd_mm", "mean of the pooled directed surface distances A→B and B→A, in mm"},
      {"empty_masks",
       "both empty: Dice 1, distances undefined (null); one empty: Dice 0, distances undefined; "
       "undefined values are excluded from mean/std and counted in n_undefined"},
      {"std", "population standard deviation (ddof 0) over cases"},
      {"phase", "ACDC: of a patient's two frames the earlier is ED, the later ES"}};
  std::vector<std::string> structures(set.classes.begin() + 1, set.classes.end());
  report["structures"] = structures;
  json cases = json::array();
  for (const CaseResult* r : all) {
    json c{{"case", r->name},          {"phase", method::to_string(r->phase)},
           {"pred", r->pred.string()}, {"label", r->label.string()},
           {"spacing_mm", r->spacing}, {"spacing_differs", r->spacing_differs}};
    for (std::size_t k = 0; k < structures.size(); ++k) {
      const auto& s = r->scores[k];
      c["structures"][structures[k]] = {{"dice", s.dice},
                                        {"hd95_mm", number_or_null(s.hd95)},
                                        {"assd_mm", number_or_null(s.assd)},
                                        {"status", method::to_string(s.status)},
                                        {"pred_voxels", s.pred_voxels},
                                        {"ref_voxels", s.ref_voxels}};
    }
    cases.push_back(std::move(c));
  }
  report["cases"] = std::move(cases);
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, StructureSummary>>>> tables;
  tables.push_back({"all", {}});
  report["summary"]["all"] = group_json(all, set, tables.back().second);
  if (!ed.empty() || !es.empty()) {
    tables.push_back({"ED", {}});
    report["summary"]["ED"] = group_json(ed, set, tables.back().second);
    tables.push_back({"ES", {}});
    report["summary"]["ES"] = group_json(es, set, tables.back().second);
  }

  // ---- report.csv: one row per case and structure ----
  std::ostringstream csv;
  csv << "case,phase,structure,dice,hd95_mm,assd_mm,status,pred_voxels,ref_voxels\n" << std::setprecision(10);
  for (const CaseResult* r : all)
    for (std::size_t k = 0; k < structures.size(); ++k) {
      const auto& s = r->scores[k];
      csv << csv_field(r->name) << ',' << method::to_string(r->phase) << ',' << structures[k] << ',' << s.dice << ',';
      if (s.hd95) csv << *s.hd95;
      csv << ',';
      if (s.assd) csv << *s.assd;
      csv << ',' << method::to_string(s.status) << ',' << s.pred_voxels << ',' << s.ref_voxels << '\n';
    }

  ensure_folder(options.report.parent_path());
  fs::path csv_path = options.report;
  csv_path.replace_extension(".csv");
  write_text_atomically(options.report, report.dump(2) + "\n");
  write_text_atomically(csv_path, csv.str());

  // ---- summary on stdout ----
  std::size_t differing = 0;
  for (const CaseResult* r : all) differing += r->spacing_differs;
  std::cout << "evaluated " << all.size() << " case(s), label set " << set.name << ", spacing from "
            << options.spacing_from << "\n";
  if (differing)
    std::cout << "note: " << differing << " case(s) have different spacing in prediction and reference (see report)\n";
  for (const auto& [group, rows] : tables) {
    std::cout << "\n"
              << group << " ("
              << (group == "all"  ? all.size()
                  : group == "ED" ? ed.size()
                                  : es.size())
              << " cases)\n";
    std::cout << pad("structure", 10) << pad("Dice", 26) << pad("HD95 (mm)", 28) << "ASSD (mm)\n";
    for (const auto& [structure, s] : rows)
      std::cout << pad(structure, 10) << pad(format_summary(s.dice, 4), 26) << pad(format_summary(s.hd95, 2), 28)
                << format_summary(s.assd, 2) << "\n";
  }
  std::cout << "\nwrote " << options.report.string() << " and " << csv_path.string() << "\n";
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
  cmd->add_flag("--largest-component", run->largest_component,
                "with --run: keep each structure's largest 3D component before scoring (default: raw predictions)");
  cmd->callback([options, run] {
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
