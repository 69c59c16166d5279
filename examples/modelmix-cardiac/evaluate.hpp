#pragma once
// The evaluate command's work, callable from other commands (e.g. predict, after writing its
// label volumes): score every reference case in `labels` against its namesake in `pred` and
// write `report` (JSON) and the CSV next to it, atomically; prints a summary to stdout.
#include <filesystem>
#include <string>

namespace modelmix_cardiac {

struct EvaluateOptions {
  std::filesystem::path pred, labels, report;
  std::string spacing_from = "labels";  // or "pred"
  std::string label_set = "acdc";       // or "mscmr"
};

void evaluate_folders(const EvaluateOptions& options);

}  // namespace modelmix_cardiac
