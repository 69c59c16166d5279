// modelmix-cardiac predict / evaluate --run: the networks of a training run applied to NIfTI
// volumes, slice by slice (crop/pad to the training size, paste back), with the input's
// geometry kept in every written label volume.
#include <cstdio>
#include <iostream>
#include <map>

#include "commands.hpp"
#include "device_option.hpp"
#include "evaluate.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/io/nifti.hpp"
#include "modelmix/method/evaluation.hpp"
#include "run_folder.hpp"
#include "report.hpp"
#include "run_support.hpp"
#include "validate.hpp"

namespace modelmix_cardiac {
namespace {

using namespace modelmix;
namespace fs = std::filesystem;

// The images of --in DIR: DIR/images when it exists, else DIR.
fs::path input_folder(const fs::path& dir) { return fs::is_directory(dir / "images") ? dir / "images" : dir; }

std::map<std::string, fs::path> input_images(const fs::path& dir) {
  MODELMIX_REQUIRE(fs::is_directory(dir), "--in ", dir.string(), ": no such folder");
  const fs::path folder = input_folder(dir);
  require_regular_volumes(folder, "--in");
  const auto images = data::list_volumes(folder);
  MODELMIX_REQUIRE(!images.empty(), "--in ", dir.string(), ": no .nii or .nii.gz volumes found");
  return images;
}

struct predict_settings {
  fs::path run, in, out;
  std::string task, checkpoint = "last", device = "cpu";
  index_t batch = 8;
  int threads = 0;
  bool largest_component = false;
};

// A path made absolute, with links and ".." resolved as far as it exists, without a trailing separator.
fs::path resolved(const fs::path& p) {
  std::error_code ec;
  fs::path r = fs::weakly_canonical(fs::absolute(p), ec).lexically_normal();
  if (r.has_parent_path() && !r.has_filename()) r = r.parent_path();
  return r;
}

// True when `inner` is `outer` or lies inside it.
bool same_or_inside(const fs::path& inner, const fs::path& outer) {
  const fs::path rel = resolved(inner).lexically_relative(resolved(outer));
  return !rel.empty() && *rel.begin() != "..";
}

void run_predict(const predict_settings& s) {
  require_in_range("--batch", s.batch, 1, 4096);
  apply_threads_option(s.threads);
  const device where = parse_device(s.device);
  MODELMIX_REQUIRE(fs::is_directory(s.in), "--in ", s.in.string(), ": no such folder");
  // The output folder must not be (or lie in) a folder of inputs: predictions would mix with them.
  const fs::path image_folder = input_folder(s.in);
  for (const fs::path& source : {image_folder, s.in / "labels", s.in / "scribbles"})
    MODELMIX_REQUIRE(!(fs::is_directory(source) && same_or_inside(s.out, source)), "--out ", s.out.string(),
                     same_or_inside(source, s.out) ? " is the input folder " : " lies inside the input folder ",
                     source.string(), " (choose a folder outside the inputs)");
  MODELMIX_REQUIRE(resolved(s.in) != resolved(s.out), "--out ", s.out.string(), " is the --in folder ", s.in.string(),
                   " (choose a folder outside the inputs)");
  const run_config c = load_run_config(s.run);
  const std::string task = s.task.empty() ? c.tasks.front().name : s.task;
  auto net = load_task_network(s.run, c, task, s.checkpoint, where);
  ensure_folder(s.out);
  const auto images = input_images(s.in);
  for (const auto& [name, path] : images) {
    const io::NiftiVolume<float> image = io::read_nifti<float>(path);
    data::LabelVolume prediction = method::predict_volume(
        image.volume, [&](const Tensor<float>& batch) { return method::segment_batch(*net, batch); },
        {.size = c.size, .batch = s.batch, .largest_component = s.largest_component});
    io::write_labels(s.out / (name + ".nii.gz"), prediction, image.header);
    std::fprintf(stderr, "predicted %s\n", name.c_str());
  }
  std::printf("wrote %zu label volumes to %s (task %s of run %s)\n", images.size(), s.out.string().c_str(), task.c_str(),
              s.run.string().c_str());
  if (fs::is_directory(s.in / "labels")) {
    task_scores scores = score_folders({.pred = s.out, .labels = s.in / "labels", .report = {}, .label_set = c.label_set});
    scores.method = c.method;
    scores.task = task;
    scores.postprocessing = s.largest_component ? "largest_component" : "none";
    scores.source["images"] = input_folder(s.in).string();
    const nlohmann::json doc =
        report_document("predict", c.label_set, {scores},
                        {{"run", s.run.string()}, {"checkpoint", s.checkpoint}, {"device", device_json(where)}});
    const fs::path report = s.out / "report.json", csv = write_report(report, doc);
    print_report_summary(std::cout, doc);
    std::printf("\nwrote %s and %s\n", report.string().c_str(), csv.string().c_str());
  }
}

}  // namespace

void evaluate_run(const RunEvaluateOptions& options) {
  const device where = parse_device(options.device);
  const run_config c = load_run_config(options.run);
  MODELMIX_REQUIRE(!options.tasks.empty(), "evaluate --run: give --task NAME=DIR (DIR with images/ and labels/)");
  check_report_path(options.report);
  remove_stale_temporaries(options.run);
  std::vector<task_scores> reports;
  for (const std::string& text : options.tasks) {
    const task_spec spec = parse_task_spec(text);
    auto net = load_task_network(options.run, c, spec.name, options.checkpoint, where);
    require_regular_volumes(spec.folder / "images", "--task");
    require_regular_volumes(spec.folder / "labels", "--task");
    const data::SplitFiles split = data::scan_split(spec.folder);
    MODELMIX_REQUIRE(split.has_labels, "--task ", text, ": no labels/ folder (evaluation needs dense labels)");
    task_scores scores;
    scores.method = c.method;
    scores.task = spec.name;
    scores.postprocessing = options.largest_component ? "largest_component" : "none";
    scores.source = {{"images", (spec.folder / "images").string()}, {"labels", (spec.folder / "labels").string()},
                     {"spacing_from", "labels"}};
    for (const data::Case& k : data::load_split(split, data::label_set_by_name(c.label_set), io::NiftiReader{}))
      scores.cases.push_back(
          method::evaluate_case(*net, k.image, *k.label, {.size = c.size, .largest_component = options.largest_component}));
    std::printf("%s %s: mean Dice %.4f over %zu volumes\n", c.method.c_str(), spec.name.c_str(),
                method::summarize_cases(scores.cases).mean_dice.mean, scores.cases.size());
    reports.push_back(std::move(scores));
  }
  const nlohmann::json doc = report_document("evaluate", c.label_set, reports,
                                             {{"run", options.run.string()}, {"checkpoint", options.checkpoint},
                                              {"device", device_json(where)}});
  const fs::path csv = write_report(options.report, doc);
  std::printf("wrote %s and %s\n", options.report.string().c_str(), csv.string().c_str());
}

void add_predict_command(CLI::App& app) {
  auto s = std::make_shared<predict_settings>();
  CLI::App* cmd = app.add_subcommand("predict", "Segment NIfTI volumes with a trained run; writes <case>.nii.gz per volume");
  cmd->add_option("--run", s->run, "Training run folder (from train)")->required();
  cmd->add_option("--in", s->in, "Folder of images (or a split folder with images/ [and labels/])")->required();
  cmd->add_option("--out", s->out, "Output folder for the label volumes (and report.json when --in has labels/)")->required();
  cmd->add_option("--task", s->task, "Which task's network to use (default: the run's first task)");
  cmd->add_option("--batch", s->batch, "Slices per forward pass")->capture_default_str();
  add_checkpoint_option(cmd, s->checkpoint);
  add_device_option(cmd, s->device);
  cmd->add_flag("--largest-component", s->largest_component,
                "Keep each structure's largest 3D connected component (post-processing; default: raw argmax)");
  add_threads_option(cmd, s->threads);
  cmd->callback([s] { run_predict(*s); });
}

}  // namespace modelmix_cardiac
