#pragma once
// Shared by the training commands (demo, train, evaluate --run): a progress line and the
// report.json layout.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "modelmix/method/evaluation.hpp"
#include "modelmix/method/trainer.hpp"

namespace modelmix_cardiac {

// "step 120/600  loss 1.234 [cine 0.61 lge 0.62]  3.1 steps/s  ETA 2m30s" on stderr; redrawn in
// place on a terminal, one line per 10 % otherwise (logs, CI).
class progress_line {
 public:
  progress_line(std::string label, long long total) : label_(std::move(label)), total_(total), tty_(isatty(2)) {}

  void update(const modelmix::method::step_report& r, const modelmix::method::Trainer& trainer) {
    const long long done = r.step + 1;
    const double elapsed = seconds();
    const double rate = (done - first_) / std::max(elapsed, 1e-9);
    const bool milestone = done == total_ || (done * 10 / total_) != ((done - 1) * 10 / total_);
    if (!tty_ && !milestone) return;
    std::string tasks;
    for (std::size_t t = 0; t < r.tasks.size(); ++t)
      tasks += modelmix::cat(t ? " " : "", trainer.task_name(t), " ", fixed(r.tasks[t].total, 3));
    std::fprintf(stderr, "%s[%s] step %lld/%lld  loss %s [%s]  %.2f steps/s  ETA %s%s", tty_ ? "\r\033[K" : "",
                 label_.c_str(), done, total_, fixed(r.total, 3).c_str(), tasks.c_str(), rate,
                 duration(double(total_ - done) / std::max(rate, 1e-9)).c_str(), tty_ && done != total_ ? "" : "\n");
    std::fflush(stderr);
  }
  void resume_from(long long step) { first_ = step; }
  [[nodiscard]] double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  static std::string duration(double s) {
    const long long total = std::llround(s);
    return total >= 60 ? modelmix::cat(total / 60, "m", total % 60, "s") : modelmix::cat(total, "s");
  }
  static std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
  }

 private:
  std::string label_;
  long long total_, first_ = 0;
  bool tty_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

inline nlohmann::json optional_number(const std::optional<double>& v) {
  return v && std::isfinite(*v) ? nlohmann::json(*v) : nlohmann::json(nullptr);
}
inline nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// {"method", "task", "structures": {"LV": {"dice_mean", "dice_std", "hd95_mean", ...}, ...},
//  "mean_dice", "cases": [{"case", "LV": {"dice", "hd95", "assd", "status"}, ...}]}
inline nlohmann::json report_json(const std::string& method, const std::string& task,
                                  std::span<const modelmix::method::case_result> cases) {
  using modelmix::method::cardiac_structures;
  const auto summary = modelmix::method::summarize_cases(cases);
  nlohmann::json out{{"method", method}, {"task", task}};
  nlohmann::json structures = nlohmann::json::object();
  for (std::size_t k = 0; k < cardiac_structures.size(); ++k)
    structures[cardiac_structures[k].name] = {
        {"dice_mean", number(summary.dice[k].mean)},  {"dice_std", number(summary.dice[k].std)},
        {"hd95_mean", number(summary.hd95[k].mean)},  {"hd95_std", number(summary.hd95[k].std)},
        {"hd95_undefined", summary.hd95[k].n_undefined}, {"assd_mean", number(summary.assd[k].mean)},
        {"assd_std", number(summary.assd[k].std)}};
  out["structures"] = structures;
  out["mean_dice"] = number(summary.mean_dice.mean);
  out["mean_dice_std"] = number(summary.mean_dice.std);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : cases) {
    nlohmann::json row{{"case", c.name}, {"mean_dice", c.mean_dice()}};
    for (std::size_t k = 0; k < cardiac_structures.size(); ++k)
      row[cardiac_structures[k].name] = {{"dice", c.scores[k].dice},
                                         {"hd95", optional_number(c.scores[k].hd95)},
                                         {"assd", optional_number(c.scores[k].assd)},
                                         {"status", modelmix::method::to_string(c.scores[k].status)}};
    list.push_back(row);
  }
  out["cases"] = list;
  return out;
}

}  // namespace modelmix_cardiac
