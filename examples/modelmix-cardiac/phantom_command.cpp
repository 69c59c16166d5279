// modelmix-cardiac phantom (hidden; for tests and trying the program without data): writes
// synthetic phantom volumes as a split folder DIR/{images,scribbles,labels}/<case>.nii.gz in
// the ACDC label convention (0 bg, 1 RV, 2 Myo, 3 LV; scribbles 4 = unlabeled).
#include <cstdio>

#include "commands.hpp"
#include "files.hpp"
#include "modelmix/data/phantom.hpp"
#include "modelmix/io/nifti.hpp"
#include "validate.hpp"

namespace modelmix_cardiac {
namespace {

using namespace modelmix;

struct phantom_settings {
  fs::path out;
  index_t volumes = 2, size = 32;
  std::string modality = "cine";
  std::uint64_t seed = 1;
  bool no_scribbles = false;
};

void run_phantom(const phantom_settings& s) {
  require_in_range("--volumes", s.volumes, 1, 1000);
  require_in_range("--size", s.size, 16, 1024);
  data::phantom_options o;
  o.modality = s.modality == "lge" ? data::phantom_modality::lge : data::phantom_modality::cine;
  o.width = o.height = s.size;
  o.min_slices = 2;
  o.max_slices = 3;
  o.seed = s.seed;
  for (const char* sub : {"images", "scribbles", "labels"}) ensure_folder(s.out / sub);
  for (index_t i = 0; i < s.volumes; ++i) {
    const data::phantom_case c = data::make_phantom_case(o, i);
    char name[32];
    std::snprintf(name, sizeof name, "case%03lld", static_cast<long long>(i));
    const nifti_1_header h = io::make_header(c.image);
    io::write_nifti(s.out / "images" / (std::string(name) + ".nii.gz"), c.image, h);
    io::write_labels(s.out / "labels" / (std::string(name) + ".nii.gz"), c.label, h);
    data::LabelVolume scribble = c.scribble;
    if (s.no_scribbles)
      for (auto& v : scribble.voxels.span()) v = data::label_t(4);
    io::write_labels(s.out / "scribbles" / (std::string(name) + ".nii.gz"), scribble, h);
  }
  std::printf("wrote %lld phantom volumes to %s\n", static_cast<long long>(s.volumes), s.out.string().c_str());
}

}  // namespace

void add_phantom_command(CLI::App& app) {
  auto s = std::make_shared<phantom_settings>();
  CLI::App* cmd = app.add_subcommand("phantom", "Write synthetic phantom volumes as NIfTI (images/, scribbles/, labels/)");
  cmd->group("");  // hidden: a test fixture, not part of the documented interface
  cmd->add_option("--out", s->out, "Split folder to write")->required();
  cmd->add_option("--volumes", s->volumes, "Number of volumes")->capture_default_str();
  cmd->add_option("--size", s->size, "Slice size (X = Y)")->capture_default_str();
  cmd->add_option("--modality", s->modality, "cine or lge")->check(CLI::IsMember({"cine", "lge"}));
  cmd->add_option("--seed", s->seed, "Seed of the subjects")->capture_default_str();
  cmd->add_flag("--no-scribbles", s->no_scribbles, "Write scribble files that hold no stroke (all unlabeled)");
  cmd->callback([s] { run_phantom(*s); });
}

}  // namespace modelmix_cardiac
