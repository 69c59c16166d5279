#pragma once
// The evaluate command's work, callable from other commands (e.g. predict, after writing its
// label volumes): score every reference case in `labels` against its namesake in `pred` and
// write `report` (JSON, report.hpp) and the CSV next to it, atomically; prints a summary.
#include <filesystem>
#include <string>
#include <vector>

#include "report.hpp"

namespace modelmix_cardiac {

struct EvaluateOptions {
  std::filesystem::path pred, labels, report;
  std::string spacing_from = "labels";  // or "pred"
  std::string label_set = "acdc";       // or "mscmr"
};

void evaluate_folders(const EvaluateOptions& options);
// The scoring part (no report written): one task_scores with method and task unset.
task_scores score_folders(const EvaluateOptions& options);

// --report must name a .json file; an existing one is replaced only if it is a report
// (a JSON object with "cases" or "reports"), never another kind of file.
void check_report_path(const std::filesystem::path& report);  // evaluate.cpp

// evaluate --run RUN_DIR --task NAME=DIR: segment DIR/images with the run's network for NAME
// and score against DIR/labels; report.json holds one report per task.
struct RunEvaluateOptions {
  std::filesystem::path run, report;
  std::vector<std::string> tasks;
  bool largest_component = false;  // post-process the predictions before scoring
  std::string checkpoint = "last";  // or "best" (train --val)
  std::string device = "cpu";       // --device
  int threads = 0;                  // --threads (both modes)
};
void evaluate_run(const RunEvaluateOptions& options);  // predict.cpp

}  // namespace modelmix_cardiac
