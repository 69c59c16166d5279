// modelmix-cardiac compare: several training runs side by side, from their curves.csv.
//
//   compare --run NAME=RUN ... --out DIR [--at-seconds S] [--interpolation NAME=CSV ...]
//           [--evaluation NAME=CSV ...]
//
// Per run (one row of OUT/compare.csv, and a line on stdout):
//   last_*   the last row of curves.csv: step, training seconds, val_mean
//   best_*   the row with the highest val_mean (the first of equals, as train keeps
//            best.safetensors): its step, seconds, val_mean and every val.<set>.<structure>
//   at_*     the last row whose training seconds are at most S (default: the first run's last
//            seconds), i.e. each run at the wall time of the first: "pce at equal wall time"
// Rows without validation (empty val_mean) are skipped for best_* and at_*. Every run must have
// the first run's validation columns. Where PNG output is built in, OUT/learning_curves.png
// plots each validation set's mean Dice against the step and val_mean against the training
// seconds (a colour per run), and OUT/interpolation.png the mean Dice and loss against α of each
// interpolate CSV given (a line per CSV × layers × bn_stats).
//
// With --evaluation (evaluate's report.csv of each run, on the same volumes), OUT/paired.csv
// compares the first with each other volume by volume (method/paired_comparison.hpp): per task,
// how often the first has the higher mean Dice, the mean difference (first − other) with its
// bootstrap 95 % interval and the Wilcoxon signed-rank p-value.
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "csv_table.hpp"
#include "files.hpp"
#include "modelmix/method/paired_comparison.hpp"
#include "run_folder.hpp"
#if MODELMIX_CARDIAC_WITH_MONTAGE
#include "plot.hpp"
#endif

namespace modelmix_cardiac {
namespace {

namespace fs = std::filesystem;
using modelmix::cat;

struct compare_settings {
  std::vector<std::string> runs, interpolations, evaluations;
  fs::path out;
  double at_seconds = NAN;  // NaN: the first run's last seconds
};

struct run_curves {
  std::string name, method, option;  // option: "--run NAME=RUN", for errors
  csv_table table;
  std::size_t step = 0, seconds = 0, val_mean = 0;
  std::vector<std::size_t> val;  // the first run's val.<set>.<structure> columns, in its order

  [[nodiscard]] double at(std::size_t row, std::size_t col) const { return table.number(row, col); }
};

run_curves load_curves(const std::string& text) {
  const task_spec spec = parse_task_spec(text, "--run");
  run_curves r{spec.name, load_run_config(spec.folder).method, cat("--run ", text), {}, 0, 0, 0, {}};
  r.table = read_csv_table(spec.folder / "curves.csv", r.option);
  r.step = r.table.require_column("step");
  r.seconds = r.table.require_column("seconds");
  const long mean = r.table.column("val_mean");
  MODELMIX_REQUIRE(mean >= 0, r.option, ": ", r.table.path.string(),
                   " has no validation columns (train the run with --val NAME=DIR)");
  r.val_mean = std::size_t(mean);
  MODELMIX_REQUIRE(!r.table.rows.empty(), r.option, ": ", r.table.path.string(), " has no rows yet");
  for (std::size_t i = 0; i < r.table.rows.size(); ++i)
    MODELMIX_REQUIRE(std::isfinite(r.at(i, r.step)) && std::isfinite(r.at(i, r.seconds)), r.table.path.string(),
                     ": line ", i + 2, " has no step or seconds");
  return r;
}

// The validation columns of the first run (val.<set>.<structure>), looked up in every run.
void match_validation_columns(std::vector<run_curves>& runs) {
  std::vector<std::string> names;
  for (const std::string& h : runs.front().table.header)
    if (h.starts_with("val.")) names.push_back(h);
  for (run_curves& r : runs)
    for (const std::string& n : names) {
      const long i = r.table.column(n);
      MODELMIX_REQUIRE(i >= 0, r.option, ": ", r.table.path.string(), " has no column '", n, "' (the first run ",
                       runs.front().name, " has it); compare runs validated on the same sets");
      r.val.push_back(std::size_t(i));
    }
}

std::string number(double v) {
  if (!std::isfinite(v)) return "";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// evaluate's report.csv: each volume's mean Dice over its structures (evaluate's mean_dice),
// by task and case.
struct volume_scores {
  std::string name, option;
  std::map<std::string, std::map<std::string, double>> dice;  // task -> case -> mean Dice
};

volume_scores load_volume_scores(const std::string& text) {
  const task_spec spec = parse_task_spec(text, "--evaluation");
  volume_scores v{spec.name, cat("--evaluation ", text), {}};
  const csv_table t = read_csv_table(spec.folder, v.option);
  const std::size_t task = t.require_column("task"), kase = t.require_column("case"), dice = t.require_column("dice");
  std::map<std::string, std::map<std::string, std::pair<double, int>>> sums;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const double d = t.number(i, dice);
    MODELMIX_REQUIRE(std::isfinite(d), v.option, ": ", t.path.string(), ": line ", i + 2, " has no Dice");
    auto& s = sums[t.rows[i][task]][t.rows[i][kase]];
    s.first += d, s.second += 1;
  }
  MODELMIX_REQUIRE(!sums.empty(), v.option, ": ", t.path.string(), " has no volumes");
  for (const auto& [name, cases] : sums)
    for (const auto& [c, s] : cases) v.dice[name][c] = s.first / s.second;
  return v;
}

// The first evaluation against each later one, per task of the first; both must hold the same
// volumes (a paired comparison on different validation sets means nothing).
std::string paired_csv(const std::vector<volume_scores>& evals) {
  MODELMIX_REQUIRE(evals.size() >= 2, "--evaluation: give two or more (the first is compared with each other)");
  const volume_scores& first = evals.front();
  std::string csv = "task,first,other,volumes,first_better,other_better,equal,mean_difference,ci95_low,ci95_high,"
                    "wilcoxon_p\n";
  for (std::size_t k = 1; k < evals.size(); ++k) {
    const volume_scores& other = evals[k];
    MODELMIX_REQUIRE(other.name != first.name, other.option, ": the name ", other.name, " is used twice");
    for (const auto& [task, cases] : other.dice)
      MODELMIX_REQUIRE(first.dice.contains(task), other.option, ": task ", task, " is not in the first evaluation (",
                       first.option, ")");
    for (const auto& [task, cases] : first.dice) {
      const auto it = other.dice.find(task);
      MODELMIX_REQUIRE(it != other.dice.end(), other.option, ": has no volumes of task ", task, " (", first.name,
                       " has ", cases.size(), ")");
      std::vector<double> a, b;
      for (const auto& [c, d] : cases) {
        const auto o = it->second.find(c);
        MODELMIX_REQUIRE(o != it->second.end(), other.option, ": has no volume ", c, " of task ", task, " (",
                         first.name, " has it); compare evaluations of the same volumes");
        a.push_back(d);
        b.push_back(o->second);
      }
      MODELMIX_REQUIRE(it->second.size() == cases.size(), other.option, ": has ", it->second.size(),
                       " volumes of task ", task, ", ", first.name, " ", cases.size(),
                       "; compare evaluations of the same volumes");
      const modelmix::method::paired_comparison p = modelmix::method::compare_paired(a, b);
      csv += cat(csv_field(task), ",", csv_field(first.name), ",", csv_field(other.name), ",", p.volumes, ",", p.wins,
                 ",", p.losses, ",", p.ties, ",", number(p.mean_difference), ",", number(p.ci95_low), ",",
                 number(p.ci95_high), ",", number(p.wilcoxon_p), "\n");
      std::printf("%s: %s - %s over %zu volumes: mean Dice %+.4f, 95%% interval [%+.4f, %+.4f], higher on %zu, lower "
                  "on %zu, Wilcoxon p %.3g\n",
                  task.c_str(), first.name.c_str(), other.name.c_str(), p.volumes, p.mean_difference, p.ci95_low,
                  p.ci95_high, p.wins, p.losses, p.wilcoxon_p);
    }
  }
  return csv;
}

struct run_summary {
  std::optional<std::size_t> best, at;  // rows
};

run_summary summarize(const run_curves& r, double limit) {
  run_summary s;
  double best = NAN;
  for (std::size_t i = 0; i < r.table.rows.size(); ++i) {
    const double v = r.at(i, r.val_mean);
    if (!std::isfinite(v)) continue;
    if (!s.best || v > best) s.best = i, best = v;
    if (r.at(i, r.seconds) <= limit) s.at = i;
  }
  return s;
}

#if MODELMIX_CARDIAC_WITH_MONTAGE
std::vector<plot_panel> learning_curve_panels(const std::vector<run_curves>& runs) {
  std::vector<plot_panel> panels;
  const run_curves& first = runs.front();
  const auto column = [](const run_curves& r, std::size_t col) {
    std::vector<double> v;
    for (std::size_t i = 0; i < r.table.rows.size(); ++i) v.push_back(r.at(i, col));
    return v;
  };
  for (std::size_t k = 0; k < first.val.size(); ++k) {
    const std::string& name = first.table.header[first.val[k]];
    if (!name.ends_with(".mean")) continue;
    const std::string set = name.substr(4, name.size() - 4 - 5);
    plot_panel p{cat("validation mean 3D Dice, ", set), "step", "Dice", {}, 0.0, 1.0, false};
    for (const run_curves& r : runs) p.series.push_back({r.name, column(r, r.step), column(r, r.val[k])});
    panels.push_back(std::move(p));
  }
  plot_panel time{"val_mean against training time", "training seconds", "Dice", {}, 0.0, 1.0, false};
  for (const run_curves& r : runs) time.series.push_back({r.name, column(r, r.seconds), column(r, r.val_mean)});
  panels.push_back(std::move(time));
  return panels;
}

// interpolate's CSV: a line per (layers, bn_stats) group of each file, in the file's order.
std::vector<plot_panel> interpolation_panels(const std::vector<std::string>& specs) {
  plot_panel dice{"mean 3D Dice along the encoder line (1 = the task's own)", "alpha", "Dice", {}, 0.0, 1.0, false};
  plot_panel loss{"mean cross-entropy per pixel", "alpha", "loss", {}, {}, {}, true};
  for (const std::string& text : specs) {
    const task_spec spec = parse_task_spec(text, "--interpolation");
    const csv_table t = read_csv_table(spec.folder, cat("--interpolation ", text));
    const std::size_t layers = t.require_column("layers"), bn = t.require_column("bn_stats"),
                      alpha = t.require_column("alpha"), mean = t.require_column("mean_dice"),
                      ce = t.require_column("mean_loss");
    std::vector<std::string> order;
    std::map<std::string, std::array<std::vector<double>, 3>> lines;  // alpha, Dice, loss
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      const std::string key = t.rows[i][layers] + " / " + t.rows[i][bn];
      if (!lines.contains(key)) order.push_back(key);
      auto& l = lines[key];
      l[0].push_back(t.number(i, alpha));
      l[1].push_back(t.number(i, mean));
      l[2].push_back(t.number(i, ce));
    }
    for (const std::string& key : order) {
      const std::string name = order.size() == 1 ? spec.name : spec.name + " " + key;
      dice.series.push_back({name, lines[key][0], lines[key][1]});
      loss.series.push_back({name, lines[key][0], lines[key][2]});
    }
  }
  return {dice, loss};
}
#endif

void run_compare(const compare_settings& s) {
  MODELMIX_REQUIRE(std::isnan(s.at_seconds) || (std::isfinite(s.at_seconds) && s.at_seconds >= 0), "--at-seconds ",
                   s.at_seconds, ": must be a finite number of seconds >= 0");
#if !MODELMIX_CARDIAC_WITH_MONTAGE
  MODELMIX_REQUIRE(s.interpolations.empty(), "--interpolation: this build has no PNG output (libstb-dev)");
#endif
  std::vector<run_curves> runs;
  for (const std::string& text : s.runs) {
    runs.push_back(load_curves(text));
    for (std::size_t i = 0; i + 1 < runs.size(); ++i)
      MODELMIX_REQUIRE(runs[i].name != runs.back().name, "--run ", text, ": the name ", runs.back().name,
                       " is used twice");
  }
  match_validation_columns(runs);
  std::vector<volume_scores> evaluations;
  for (const std::string& text : s.evaluations) evaluations.push_back(load_volume_scores(text));
  const std::string paired = evaluations.empty() ? std::string() : paired_csv(evaluations);
  const run_curves& first = runs.front();
  const double limit = std::isnan(s.at_seconds) ? first.at(first.table.rows.size() - 1, first.seconds) : s.at_seconds;

  std::string csv = "run,method,last_step,last_seconds,last_val_mean,best_step,best_seconds,best_val_mean";
  for (std::size_t col : first.val) csv += ",best." + csv_field(first.table.header[col].substr(4));
  csv += ",at_seconds_limit,at_step,at_seconds,at_val_mean\n";
  std::printf("%-12s %-9s %8s %10s %8s | %8s %10s %8s | %8s %10s %8s  (at <= %.0f s)\n", "run", "method", "step",
              "seconds", "val", "best at", "seconds", "best", "step", "seconds", "val", limit);
  for (const run_curves& r : runs) {
    const run_summary sum = summarize(r, limit);
    const std::size_t last = r.table.rows.size() - 1;
    const auto cell = [&](std::optional<std::size_t> row, std::size_t col) {
      return row ? r.at(*row, col) : NAN;
    };
    csv += csv_field(r.name) + "," + r.method;
    for (double v : {r.at(last, r.step), r.at(last, r.seconds), r.at(last, r.val_mean), cell(sum.best, r.step),
                     cell(sum.best, r.seconds), cell(sum.best, r.val_mean)})
      csv += "," + number(v);
    for (std::size_t col : r.val) csv += "," + number(cell(sum.best, col));
    for (double v : {limit, cell(sum.at, r.step), cell(sum.at, r.seconds), cell(sum.at, r.val_mean)})
      csv += "," + number(v);
    csv += "\n";
    std::printf("%-12s %-9s %8.0f %10.0f %8.4f | %8.0f %10.0f %8.4f | %8.0f %10.0f %8.4f\n", r.name.c_str(),
                r.method.c_str(), r.at(last, r.step), r.at(last, r.seconds), r.at(last, r.val_mean),
                cell(sum.best, r.step), cell(sum.best, r.seconds), cell(sum.best, r.val_mean), cell(sum.at, r.step),
                cell(sum.at, r.seconds), cell(sum.at, r.val_mean));
  }
  ensure_folder(s.out);
  write_text_atomically(s.out / "compare.csv", csv);
  std::printf("wrote %s\n", (s.out / "compare.csv").string().c_str());
  if (!paired.empty()) {
    write_text_atomically(s.out / "paired.csv", paired);
    std::printf("wrote %s\n", (s.out / "paired.csv").string().c_str());
  }
#if MODELMIX_CARDIAC_WITH_MONTAGE
  write_png(s.out / "learning_curves.png", render_plot(learning_curve_panels(runs)));
  std::printf("wrote %s\n", (s.out / "learning_curves.png").string().c_str());
  if (!s.interpolations.empty()) {
    write_png(s.out / "interpolation.png", render_plot(interpolation_panels(s.interpolations)));
    std::printf("wrote %s\n", (s.out / "interpolation.png").string().c_str());
  }
#endif
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto s = std::make_shared<compare_settings>();
  CLI::App* cmd = app.add_subcommand("compare", "Training runs side by side: best and equal-wall-time validation "
                                                "Dice (compare.csv), learning and interpolation curves (PNG)");
  cmd->add_option("--run", s->runs, "NAME=RUN: a train --val run folder (repeatable; the first sets --at-seconds)")
      ->required();
  cmd->add_option("--out", s->out, "Folder for compare.csv, learning_curves.png and interpolation.png")->required();
  cmd->add_option("--at-seconds", s->at_seconds,
                  "Compare every run at this much training time (default: the first run's last seconds)");
  cmd->add_option("--interpolation", s->interpolations,
                  "NAME=CSV: an interpolation.csv of the interpolate command, plotted into interpolation.png (repeatable)");
  cmd->add_option("--evaluation", s->evaluations,
                  "NAME=CSV: evaluate's report.csv of a run; the first is compared with each other volume by volume "
                  "(paired.csv; repeatable, same volumes)");
  cmd->callback([s] { run_compare(*s); });
}

}  // namespace modelmix_cardiac
