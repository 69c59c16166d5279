#pragma once
// report.json and report.csv: the one layout that demo, evaluate (--pred and --run) and predict
// write, described by docs/report.schema.json (checked by the report_schema command-line test).
//
//   {"schema": "modelmix-cardiac.report/1", "command": "evaluate", "label_set": "acdc",
//    "definitions": {...}, ["run": RUN_DIR], ["dataset", "config": demo settings],
//    "reports": [ one per (method, task):
//      {"method": "modelmix" | null, "task": "acdc" | null, "postprocessing": "none",
//       "source": {"pred" | "images": DIR, "labels": DIR, "spacing_from": "labels"},
//       "summary": {"all": GROUP, ["ED": GROUP, "ES": GROUP]},
//       "cases": [{"case", "phase", "mean_dice", "structures": {"LV": {"dice", "hd95_mm",
//                  "assd_mm", "status", "pred_voxels", "ref_voxels"}, "Myo": ..., "RV": ...}}]}]}
//   GROUP = {"n_cases", "mean_dice": STAT, "structures": {"LV": {"dice": STAT, "hd95_mm": STAT,
//            "assd_mm": STAT, "status_counts": {...}}, ...}};  STAT = {"mean", "std", "n", "n_undefined"}
//
// A value that is undefined (HD95 with an empty mask, a mean over no defined value) is null.
// report.csv: one row per (report, case, structure), fields quoted per RFC 4180.
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "files.hpp"
#include "modelmix/method/evaluation.hpp"
#include "modelmix/method/metrics.hpp"

namespace modelmix_cardiac {

inline constexpr const char* report_schema_version = "modelmix-cardiac.report/1";

// One (method, task) evaluation: the scored cases and where they came from.
struct task_scores {
  std::optional<std::string> method, task;  // null in evaluate --pred (a folder of predictions)
  std::string postprocessing = "none";      // or "largest_component"
  nlohmann::json source = nlohmann::json::object();
  std::vector<modelmix::method::case_result> cases;       // in cardiac_structures order
  std::vector<nlohmann::json> case_files;                 // per case (may be empty): pred, label, spacing
  std::optional<std::vector<modelmix::method::case_result>> without_postprocessing;  // demo: raw scores too
  nlohmann::json extra = nlohmann::json::object();        // e.g. the demo's train_seconds, iterations
};

inline nlohmann::json json_number(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

inline nlohmann::json stat_json(const modelmix::method::Summary& s) {
  const auto defined = [&](double v) { return s.n ? std::optional(v) : std::nullopt; };
  return {{"mean", json_number(defined(s.mean))}, {"std", json_number(defined(s.std))}, {"n", s.n},
          {"n_undefined", s.n_undefined}};
}

inline nlohmann::json group_json(const std::vector<const modelmix::method::case_result*>& cases) {
  namespace method = modelmix::method;
  nlohmann::json structures = nlohmann::json::object();
  for (std::size_t k = 0; k < method::cardiac_structures.size(); ++k) {
    std::vector<std::optional<double>> dice, hd95, assd;
    nlohmann::json status{{"ok", 0}, {"both_empty", 0}, {"pred_empty", 0}, {"ref_empty", 0}};
    for (const auto* c : cases) {
      const auto& s = c->scores[k];
      dice.emplace_back(s.dice);
      hd95.push_back(s.hd95);
      assd.push_back(s.assd);
      status[method::to_string(s.status)] = status[method::to_string(s.status)].get<int>() + 1;
    }
    structures[method::cardiac_structures[k].name] = {{"dice", stat_json(method::summarize(dice))},
                                                      {"hd95_mm", stat_json(method::summarize(hd95))},
                                                      {"assd_mm", stat_json(method::summarize(assd))},
                                                      {"status_counts", status}};
  }
  std::vector<std::optional<double>> means;
  for (const auto* c : cases) means.emplace_back(c->mean_dice());
  return {{"n_cases", cases.size()}, {"mean_dice", stat_json(method::summarize(means))}, {"structures", structures}};
}

// {"all": ..., and for ACDC-named cases (patientNNN_frameMM) "ED" and "ES"}.
inline nlohmann::json summary_json(const std::vector<modelmix::method::case_result>& cases) {
  namespace method = modelmix::method;
  std::vector<std::string> names;
  for (const auto& c : cases) names.push_back(c.name);
  const auto phases = method::acdc_phases(names);
  std::vector<const method::case_result*> all, ed, es;
  for (const auto& c : cases) {
    all.push_back(&c);
    if (phases.at(c.name) == method::CardiacPhase::ed) ed.push_back(&c);
    if (phases.at(c.name) == method::CardiacPhase::es) es.push_back(&c);
  }
  nlohmann::json out{{"all", group_json(all)}};
  if (!ed.empty() || !es.empty()) out["ED"] = group_json(ed), out["ES"] = group_json(es);
  return out;
}

inline nlohmann::json task_report_json(const task_scores& t) {
  namespace method = modelmix::method;
  const auto text_or_null = [](const std::optional<std::string>& s) { return s ? nlohmann::json(*s) : nlohmann::json(nullptr); };
  nlohmann::json r{{"method", text_or_null(t.method)}, {"task", text_or_null(t.task)},
                   {"postprocessing", t.postprocessing}, {"source", t.source}, {"summary", summary_json(t.cases)}};
  if (t.without_postprocessing) r["without_postprocessing"] = {{"summary", summary_json(*t.without_postprocessing)}};
  std::vector<std::string> names;
  for (const auto& c : t.cases) names.push_back(c.name);
  const auto phases = method::acdc_phases(names);
  nlohmann::json cases = nlohmann::json::array();
  for (std::size_t i = 0; i < t.cases.size(); ++i) {
    const auto& c = t.cases[i];
    nlohmann::json row{{"case", c.name}, {"phase", method::to_string(phases.at(c.name))}, {"mean_dice", c.mean_dice()}};
    for (std::size_t k = 0; k < method::cardiac_structures.size(); ++k) {
      const auto& s = c.scores[k];
      row["structures"][method::cardiac_structures[k].name] = {
          {"dice", s.dice},  {"hd95_mm", json_number(s.hd95)},     {"assd_mm", json_number(s.assd)},
          {"status", method::to_string(s.status)}, {"pred_voxels", s.pred_voxels}, {"ref_voxels", s.ref_voxels}};
    }
    if (i < t.case_files.size()) row.update(t.case_files[i]);
    cases.push_back(std::move(row));
  }
  r["cases"] = std::move(cases);
  r.update(t.extra);
  return r;
}

// The whole document; `extra` adds top-level members (run, dataset, config).
inline nlohmann::json report_document(const std::string& command, const std::string& label_set,
                                      const std::vector<task_scores>& reports,
                                      const nlohmann::json& extra = nlohmann::json::object()) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& t : reports) list.push_back(task_report_json(t));
  nlohmann::json doc{
      {"schema", report_schema_version},
      {"command", command},
      {"label_set", label_set},
      {"definitions",
       {{"dice", "2|A∩B| / (|A|+|B|) per 3-D volume and structure"},
        {"surface", "voxels of the mask with a 6-neighbour outside it (volume border counts as outside)"},
        {"hd95_mm", "95th percentile (linear interpolation) of the pooled directed surface distances A→B and B→A, in mm"},
        {"assd_mm", "mean of the pooled directed surface distances A→B and B→A, in mm"},
        {"empty_masks",
         "both empty: Dice 1, distances undefined (null); one empty: Dice 0, distances undefined; "
         "undefined values are excluded from mean/std and counted in n_undefined"},
        {"mean_dice", "per case: the mean of the structures' Dice; in a summary: mean/std of that over cases"},
        {"std", "population standard deviation (ddof 0) over cases"},
        {"phase", "ACDC: of a patient's two frames the earlier is ED, the later ES"}}},
      {"reports", list}};
  doc.update(extra);
  return doc;
}

// An existing file at `report` may be replaced only when it is a report of this program.
[[nodiscard]] inline bool is_report_document(const nlohmann::json& j) {
  if (!j.is_object()) return false;
  if (const auto it = j.find("schema"); it != j.end())
    return it->is_string() && it->get<std::string>().starts_with("modelmix-cardiac.report/");
  return j.contains("cases") || j.contains("reports");  // written before the schema had a version
}

inline std::string report_csv(const nlohmann::json& doc) {
  std::ostringstream csv;
  csv << "method,task,case,phase,structure,dice,hd95_mm,assd_mm,status,pred_voxels,ref_voxels\n" << std::setprecision(10);
  const auto field = [&](const nlohmann::json& v) {
    if (v.is_string()) csv << csv_field(v.get<std::string>());
    else if (v.is_number_float()) csv << v.get<double>();
    else if (!v.is_null()) csv << v.dump();
  };
  for (const auto& r : doc.at("reports"))
    for (const auto& c : r.at("cases"))
      for (const auto& [structure, s] : c.at("structures").items()) {
        const nlohmann::json row[] = {r.at("method"),  r.at("task"),    c.at("case"),   c.at("phase"),
                                      structure,       s.at("dice"),    s.at("hd95_mm"), s.at("assd_mm"),
                                      s.at("status"),  s.at("pred_voxels"), s.at("ref_voxels")};
        for (std::size_t i = 0; i < std::size(row); ++i) {
          if (i) csv << ',';
          field(row[i]);
        }
        csv << '\n';
      }
  return csv.str();
}

// report.json at `path` and report.csv next to it (same stem), each atomically.
inline std::filesystem::path write_report(const std::filesystem::path& path, const nlohmann::json& doc) {
  ensure_folder(path.parent_path());
  std::filesystem::path csv = path;
  csv.replace_extension(".csv");
  write_text_atomically(path, doc.dump(2) + "\n");
  write_text_atomically(csv, report_csv(doc));
  return csv;
}

// Per report and group: Dice / HD95 / ASSD mean ± std per structure, for stdout.
inline void print_report_summary(std::ostream& out, const nlohmann::json& doc) {
  const auto pad = [](const std::string& s, std::size_t width) {  // counts UTF-8 code points ("±")
    std::size_t columns = 0;
    for (unsigned char c : s) columns += (c & 0xC0) != 0x80;
    return s + std::string(columns < width ? width - columns : 1, ' ');
  };
  const auto stat = [](const nlohmann::json& s, int precision) {
    if (s.at("mean").is_null()) return std::string("undefined");
    std::ostringstream o;
    o << std::fixed << std::setprecision(precision) << s.at("mean").get<double>() << " ± " << s.at("std").get<double>();
    if (const auto u = s.at("n_undefined").get<long long>()) o << " (" << u << " undef.)";
    return o.str();
  };
  for (const auto& r : doc.at("reports")) {
    std::string title;
    if (!r.at("method").is_null()) title += r.at("method").get<std::string>() + " ";
    if (!r.at("task").is_null()) title += r.at("task").get<std::string>() + " ";
    for (const char* group : {"all", "ED", "ES"}) {
      if (!r.at("summary").contains(group)) continue;
      const auto& g = r.at("summary").at(group);
      out << "\n" << title << group << " (" << g.at("n_cases").get<long long>() << " cases, " << r.at("postprocessing").get<std::string>()
          << " post-processing)\n"
          << pad("structure", 10) << pad("Dice", 26) << pad("HD95 (mm)", 28) << "ASSD (mm)\n";
      for (const auto& [structure, s] : g.at("structures").items())
        out << pad(structure, 10) << pad(stat(s.at("dice"), 4), 26) << pad(stat(s.at("hd95_mm"), 2), 28)
            << stat(s.at("assd_mm"), 2) << "\n";
      out << pad("mean", 10) << stat(g.at("mean_dice"), 4) << "\n";
    }
  }
}

}  // namespace modelmix_cardiac
