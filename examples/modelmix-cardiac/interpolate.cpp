// modelmix-cardiac interpolate: the "model set" between two tasks' networks of a run.
//
//   interpolate --run RUN --task NAME=DIR --out DIR [--partner NAME] [--points 11]
//               [--layers all|conv|bn|PATH ...] [--bn-stats host|partner|interpolate|batch ...]
//
// For α on an even grid over [0, 1]: task NAME's network with the chosen encoder layers set to
// α·θ_NAME + (1−α)·θ_partner (decoder and head stay NAME's; α = 1 is NAME's own network),
// scored on DIR (images/, labels/): mean 3D Dice per structure over the volumes and the mean
// cross-entropy per pixel of the S×S windows. Mixed BatchNorm layers normalise with the
// statistics each --bn-stats policy names (layers/mix_options.hpp). Nothing is materialised:
// the mix is a mixing::plan over the two networks. Writes OUT/interpolation.csv and, where PNG
// output is built in, OUT/interpolation.png (Dice and loss against α, a line per layers ×
// policy). A ModelMix run should interpolate more smoothly than two independently trained nets.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "files.hpp"
#include "modelmix/data/crop_pad.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/io/nifti.hpp"
#include "modelmix/method/evaluation.hpp"
#include "modelmix/method/trainer.hpp"
#include "modelmix/mixing/plan.hpp"
#include "run_folder.hpp"
#include "validate.hpp"
#if MODELMIX_CARDIAC_WITH_MONTAGE
#include "plot.hpp"
#endif

namespace modelmix_cardiac {
namespace {

using namespace modelmix;
namespace fs = std::filesystem;
using Net = models::UNet<float>;

struct interpolate_settings {
  fs::path run, out;
  std::string task, partner, checkpoint = "last";
  std::vector<std::string> layer_sets{"all"}, bn_policies{"host"};
  int points = 11;
  index_t batch = 8;
  int threads = 0;
};

// Encoder layers of `net` a layer set names: all mixable conv and BN layers, only one kind, or one path.
std::vector<std::string> encoder_layers(Net& net, const std::string& set) {
  using method::mixable_set;
  if (set == "all") return method::encoder_mixable_layers(net, mixable_set::conv_and_bn);
  if (set == "conv") return method::encoder_mixable_layers(net, mixable_set::conv);
  if (set == "bn") return method::encoder_mixable_layers(net, mixable_set::bn);
  const std::vector<std::string> all = method::encoder_mixable_layers(net, mixable_set::conv_and_bn);
  MODELMIX_REQUIRE(std::find(all.begin(), all.end(), set) != all.end(), "--layers ", set,
                   ": expected all, conv, bn or an encoder layer such as ", all.front(), " (", all.size(),
                   " encoder layers in this network)");
  return {set};
}

layers::bn_stats_policy parse_bn_policy(const std::string& s) {
  if (s == "host") return layers::bn_stats_policy::host;
  if (s == "partner") return layers::bn_stats_policy::partner;
  if (s == "interpolate") return layers::bn_stats_policy::interpolate;
  if (s == "batch") return layers::bn_stats_policy::batch;
  throw error(cat("--bn-stats ", s, ": expected host, partner, interpolate or batch"));
}

struct point_score {
  std::array<double, method::cardiac_structures.size()> dice{};
  double mean_dice = 0, loss = 0;
};

// Mean 3D Dice and mean pixel cross-entropy of `net` (anything segment_batch accepts) on `cases`.
template <class Model>
point_score score(Model& net, const std::vector<data::Case>& cases, index_t size, index_t batch) {
  std::vector<method::case_result> results;
  double loss = 0, pixels = 0;
  for (const data::Case& k : cases) {
    const data::LabelVolume& label = *k.label;
    const index_t H = label.ny(), W = label.nx();
    index_t z0 = 0;  // predict_volume hands the slices over in order
    const auto predict = [&](const Tensor<float>& x) {
      no_grad_guard no_grad;
      Tape<float> tape;
      const Tensor<float> p = net.forward(tape, tape.constant_ref(x), {.training = false}).value();
      const index_t B = x.dim(0), S = x.dim(2), C = p.dim(1);
      Tensor<data::label_t> slab(Shape{B, H, W});
      std::copy_n(label.voxels.data() + z0 * H * W, B * H * W, slab.data());
      const Tensor<data::label_t> y = data::centre_crop_pad(slab, S, S, data::label_t(0));
      for (index_t b = 0; b < B; ++b)
        for (index_t i = 0; i < S * S; ++i)
          loss -= std::log(std::max(double(p[(b * C + y[b * S * S + i]) * S * S + i]), 1e-10));
      pixels += double(B * S * S);
      z0 += B;
      return method::argmax_channels(p);
    };
    const data::LabelVolume prediction = method::predict_volume(k.image, predict, {.size = size, .batch = batch});
    method::case_result r{k.name, {}};
    for (std::size_t s = 0; s < method::cardiac_structures.size(); ++s)
      r.scores[s] = method::score_structure(prediction, label, method::cardiac_structures[s].label, label.spacing);
    results.push_back(r);
  }
  const method::evaluation_summary summary = method::summarize_cases(results);
  point_score out;
  for (std::size_t s = 0; s < out.dice.size(); ++s) out.dice[s] = summary.dice[s].mean;
  out.mean_dice = summary.mean_dice.mean;
  out.loss = loss / std::max(pixels, 1.0);
  return out;
}

void run_interpolate(const interpolate_settings& s) {
  require_in_range("--points", s.points, 2, 1001);
  require_in_range("--batch", s.batch, 1, 4096);
  apply_threads_option(s.threads);
  const run_config c = load_run_config(s.run);
  MODELMIX_REQUIRE(c.tasks.size() >= 2, "--run ", s.run.string(), ": has one task; interpolation needs two networks");
  const task_spec spec = parse_task_spec(s.task);
  std::string partner = s.partner;
  if (partner.empty())
    for (const auto& t : c.tasks)
      if (t.name != spec.name && partner.empty()) partner = t.name;
  MODELMIX_REQUIRE(partner != spec.name, "--partner ", partner, " is the --task itself; choose another task of the run");
  std::vector<layers::bn_stats_policy> policies;
  for (const auto& p : s.bn_policies) policies.push_back(parse_bn_policy(p));
  auto host = load_task_network(s.run, c, spec.name, s.checkpoint);
  auto other = load_task_network(s.run, c, partner, s.checkpoint);
  std::vector<std::vector<std::string>> sets;
  for (const auto& set : s.layer_sets) sets.push_back(encoder_layers(*host, set));

  MODELMIX_REQUIRE(fs::is_directory(spec.folder), "--task ", s.task, ": no such folder");
  for (const char* sub : {"images", "labels"}) require_regular_volumes(spec.folder / sub, "--task");
  const data::SplitFiles split = data::scan_split(spec.folder);
  MODELMIX_REQUIRE(split.has_labels && !split.cases.empty(), "--task ", s.task,
                   ": needs images/ and labels/ with at least one volume (interpolation curves score dense labels)");
  const std::vector<data::Case> cases = data::load_split(split, data::label_set_by_name(c.label_set), io::NiftiReader{});
  ensure_folder(s.out);

  std::string csv = "task,partner,layers,bn_stats,alpha,LV,Myo,RV,mean_dice,mean_loss\n";
#if MODELMIX_CARDIAC_WITH_MONTAGE
  plot_panel dice_panel{cat("mean 3D Dice of ", spec.name, " vs alpha (1 = ", spec.name, ", 0 = ", partner, " encoder)"),
                        "alpha", "Dice", {}, 0.0, 1.0, false};
  plot_panel loss_panel{"mean cross-entropy per pixel", "alpha", "loss", {}, {}, {}, true};
#endif
  for (std::size_t l = 0; l < sets.size(); ++l)
    for (std::size_t b = 0; b < policies.size(); ++b) {
      mixing::plan<Net> plan({host.get(), other.get()}, sets[l], {.bn_stats = policies[b]}, {1.0, 0.0});
      std::vector<double> alphas, dice, loss;
      for (int i = 0; i < s.points; ++i) {
        const double alpha = double(i) / double(s.points - 1);
        plan.point({alpha, 1.0 - alpha}, sets[l]);
        const point_score p = score(plan, cases, c.size, s.batch);
        char line[512];
        std::snprintf(line, sizeof line, "%s,%s,%s,%s,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", spec.name.c_str(),
                      partner.c_str(), csv_field(s.layer_sets[l]).c_str(), s.bn_policies[b].c_str(), alpha, p.dice[0],
                      p.dice[1], p.dice[2], p.mean_dice, p.loss);
        csv += line;
        std::fprintf(stderr, "%s / %s  alpha %.3f: mean Dice %.4f, loss %.4f\n", s.layer_sets[l].c_str(),
                     s.bn_policies[b].c_str(), alpha, p.mean_dice, p.loss);
        alphas.push_back(alpha);
        dice.push_back(p.mean_dice);
        loss.push_back(p.loss);
      }
#if MODELMIX_CARDIAC_WITH_MONTAGE
      const std::string name = s.layer_sets[l] + " / " + s.bn_policies[b];
      dice_panel.series.push_back({name, alphas, dice});
      loss_panel.series.push_back({name, alphas, loss});
#endif
    }
  write_text_atomically(s.out / "interpolation.csv", csv);
#if MODELMIX_CARDIAC_WITH_MONTAGE
  write_png(s.out / "interpolation.png", render_plot({dice_panel, loss_panel}));
  std::printf("wrote %s and %s\n", (s.out / "interpolation.csv").string().c_str(),
              (s.out / "interpolation.png").string().c_str());
#else
  std::printf("wrote %s (built without PNG output)\n", (s.out / "interpolation.csv").string().c_str());
#endif
}

}  // namespace

void add_interpolate_command(CLI::App& app) {
  auto s = std::make_shared<interpolate_settings>();
  CLI::App* cmd = app.add_subcommand(
      "interpolate", "Dice and loss of a task's network along the line from its encoder to another task's");
  cmd->add_option("--run", s->run, "Training run folder (from train) with at least two tasks")->required();
  cmd->add_option("--task", s->task, "NAME=DIR: the network of task NAME, scored on DIR (images/, labels/)")->required();
  cmd->add_option("--partner", s->partner, "The other end of the line (default: the run's first other task)");
  cmd->add_option("--out", s->out, "Folder for interpolation.csv and interpolation.png")->required();
  cmd->add_option("--points", s->points, "Values of alpha, evenly spaced over [0, 1]")->capture_default_str();
  cmd->add_option("--layers", s->layer_sets, "Encoder layers to mix: all, conv, bn, or one layer's path (repeatable)")
      ->capture_default_str();
  cmd->add_option("--bn-stats", s->bn_policies,
                  "Statistics of a mixed BatchNorm: host, partner, interpolate or batch (repeatable)")
      ->check(CLI::IsMember({"host", "partner", "interpolate", "batch"}))
      ->capture_default_str();
  cmd->add_option("--batch", s->batch, "Slices per forward pass")->capture_default_str();
  add_checkpoint_option(cmd, s->checkpoint);
  add_threads_option(cmd, s->threads);
  cmd->callback([s] { run_interpolate(*s); });
}

}  // namespace modelmix_cardiac
