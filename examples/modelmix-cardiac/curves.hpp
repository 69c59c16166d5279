#pragma once
// train's learning curves: RUN_DIR/curves.csv (and curves.png where PNG output is built in),
// one row every --val-every steps and at the last step:
//
//   step, seconds, steps_per_s,
//   <task>.supervised, <task>.mixup, <task>.mix_consistency, <task>.modelmix, <task>.invariance,
//   <task>.total                               per training task, the mean over the row's window
//   val.<name>.LV, val.<name>.Myo, val.<name>.RV, val.<name>.mean
//                                              per --val folder: mean 3D Dice over its volumes
//   val_mean                                   the mean of the val.<name>.mean (selects best.safetensors)
//
// `seconds` is training time summed over every session of a resumed run (validation excluded),
// so runs can be compared at equal wall time. A resumed run keeps the rows up to its
// checkpoint's step and drops later ones (their steps are trained again). Both files are
// rewritten atomically at every row.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "csv_table.hpp"
#include "files.hpp"
#include "modelmix/core/error.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/method/evaluation.hpp"
#include "modelmix/method/trainer.hpp"
#if MODELMIX_CARDIAC_WITH_MONTAGE
#include "plot.hpp"
#endif

namespace modelmix_cardiac {

// The dense-labelled volumes of one --val NAME=DIR, scored with task NAME's network.
struct validation_set {
  std::string name;        // the training task whose network it scores
  std::size_t task = 0;    // that task's index in the trainer
  std::vector<modelmix::data::Case> cases;
};

// Mean 3D Dice per structure (method::cardiac_structures order) and their mean, over the set's
// volumes, predicted slice by slice in evaluation mode without a tape.
inline std::vector<double> validation_dice(modelmix::models::UNet<float>& net, const validation_set& set,
                                           modelmix::index_t size) {
  namespace method = modelmix::method;
  std::vector<method::case_result> results;
  for (const auto& k : set.cases) results.push_back(method::evaluate_case(net, k.image, *k.label, {.size = size}));
  const method::evaluation_summary s = method::summarize_cases(results);
  std::vector<double> out;
  for (const auto& d : s.dice) out.push_back(d.mean);
  out.push_back(s.mean_dice.mean);
  return out;
}

class learning_curves {
 public:
  static constexpr const char* terms[] = {"supervised", "mixup", "mix_consistency", "modelmix", "invariance", "total"};

  learning_curves(std::filesystem::path run, std::vector<std::string> tasks, std::vector<std::string> val)
      : run_(std::move(run)), tasks_(std::move(tasks)), val_(std::move(val)), window_(tasks_.size() * std::size(terms)) {
    header_ = "step,seconds,steps_per_s";
    for (const auto& t : tasks_)
      for (const char* term : terms) header_ += "," + t + "." + term;
    for (const auto& v : val_)
      for (const char* s : {"LV", "Myo", "RV", "mean"}) header_ += ",val." + v + "." + s;
    if (!val_.empty()) header_ += ",val_mean";
  }

  [[nodiscard]] std::filesystem::path csv() const { return run_ / "curves.csv"; }
  [[nodiscard]] std::filesystem::path png() const { return run_ / "curves.png"; }

  // A resumed run: the rows of curves.csv up to `step` (the checkpoint's), with the same columns.
  // Read with compare's parser, so a damaged cell is refused with its line and column.
  void resume(long long step) {
    // No file: a run trained before curves existed, or one whose first row never came.
    if (!std::filesystem::exists(csv())) return;
    const csv_table t = read_csv_table(csv(), "--resume");
    std::string header;
    for (const auto& name : t.header) header += (header.empty() ? "" : ",") + name;
    MODELMIX_REQUIRE(header == header_, csv().string(), ": its columns differ from this run's tasks and --val folders (",
                     header.substr(0, 80), "...); move it away to start new curves");
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      row r;
      for (std::size_t col = 0; col < t.header.size(); ++col) r.values.push_back(t.number(i, col));
      MODELMIX_REQUIRE(std::isfinite(r.values[0]), csv().string(), ": line ", i + 2,
                       " has no step; move the file away to start new curves");
      if (r.values[0] <= double(step)) rows_.push_back(std::move(r));
    }
  }

  // Training seconds of earlier sessions (the last kept row's).
  [[nodiscard]] double seconds_before() const { return rows_.empty() ? 0 : rows_.back().values[1]; }
  // The best val_mean so far (NaN without --val or rows).
  [[nodiscard]] double best() const {
    double best = NAN;
    for (const auto& r : rows_)
      if (!val_.empty() && std::isfinite(r.values.back()) && !(r.values.back() <= best)) best = r.values.back();
    return best;
  }

  void add_step(const modelmix::method::step_report& r) {
    for (std::size_t t = 0; t < r.tasks.size(); ++t) {
      const auto& l = r.tasks[t];
      const double v[] = {l.supervised, l.mixup, l.mix_consistency, l.modelmix, l.invariance, l.total};
      for (std::size_t k = 0; k < std::size(terms); ++k) window_[t * std::size(terms) + k] += v[k];
    }
    ++window_steps_;
  }

  // Closes the window at `step` with the validation Dice of each --val set (validation_dice's
  // layout); returns val_mean (NaN without --val). Writes curves.csv and curves.png.
  double add_row(long long step, double seconds, double steps_per_s, const std::vector<std::vector<double>>& val) {
    row r{{double(step), seconds, steps_per_s}};
    for (double& sum : window_) {
      r.values.push_back(window_steps_ > 0 ? sum / double(window_steps_) : NAN);
      sum = 0;
    }
    window_steps_ = 0;
    double mean = 0;
    for (const auto& v : val) {
      r.values.insert(r.values.end(), v.begin(), v.end());
      mean += v.back() / double(val.size());
    }
    if (!val_.empty()) r.values.push_back(mean);
    rows_.push_back(std::move(r));
    write();
    return val_.empty() ? NAN : mean;
  }

 private:
  struct row {
    std::vector<double> values;
  };
  [[nodiscard]] std::size_t column_count() const {
    return 3 + tasks_.size() * std::size(terms) + val_.size() * 4 + (val_.empty() ? 0 : 1);
  }

  void write() const {
    std::string text = header_ + "\n";
    char buf[32];
    for (const auto& r : rows_) {
      for (std::size_t i = 0; i < r.values.size(); ++i) {
        if (i) text += ",";
        if (std::isfinite(r.values[i])) {
          std::snprintf(buf, sizeof buf, i == 0 ? "%.0f" : "%.6g", r.values[i]);
          text += buf;
        }
      }
      text += "\n";
    }
    write_text_atomically(csv(), text);
#if MODELMIX_CARDIAC_WITH_MONTAGE
    write_png(png(), render_plot(panels()));
#endif
  }

#if MODELMIX_CARDIAC_WITH_MONTAGE
  // Left: each task's total loss; middle: the loss terms (mean over tasks); right: val Dice.
  [[nodiscard]] std::vector<plot_panel> panels() const {
    std::vector<double> steps;
    for (const auto& r : rows_) steps.push_back(r.values[0]);
    const auto column = [&](std::size_t i) {
      std::vector<double> v;
      for (const auto& r : rows_) v.push_back(r.values[i]);
      return v;
    };
    const std::size_t T = std::size(terms);
    plot_panel total{"total loss per task", "step", "loss", {}, {}, {}, false};
    for (std::size_t t = 0; t < tasks_.size(); ++t) total.series.push_back({tasks_[t], steps, column(3 + t * T + T - 1)});
    plot_panel parts{"loss terms (mean over tasks)", "step", "loss", {}, {}, {}, false};
    for (std::size_t k = 0; k + 1 < T; ++k) {
      std::vector<double> mean(rows_.size(), 0.0);
      for (std::size_t t = 0; t < tasks_.size(); ++t) {
        const auto v = column(3 + t * T + k);
        for (std::size_t i = 0; i < v.size(); ++i) mean[i] += v[i] / double(tasks_.size());
      }
      parts.series.push_back({terms[k], steps, mean});
    }
    std::vector<plot_panel> out{total, parts};
    if (!val_.empty()) {
      plot_panel dice{"validation mean 3D Dice", "step", "Dice", {}, 0.0, 1.0, false};
      const std::size_t first = 3 + tasks_.size() * T;
      const char* structures[] = {"LV", "Myo", "RV", "mean"};
      for (std::size_t v = 0; v < val_.size(); ++v)
        for (std::size_t s = 0; s < 4; ++s)
          dice.series.push_back({val_[v] + " " + structures[s], steps, column(first + v * 4 + s)});
      out.push_back(dice);
    }
    return out;
  }
#endif

  std::filesystem::path run_;
  std::vector<std::string> tasks_, val_;
  std::string header_;
  std::vector<double> window_;
  long long window_steps_ = 0;
  std::vector<row> rows_;
};

}  // namespace modelmix_cardiac
