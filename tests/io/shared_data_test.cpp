// [data] checks on ../shared/data beyond loading: the ACDC val dense labels scored against
// themselves give Dice 1 / HD95 0 for every structure, and a slice-wise prediction written with
// a real image's header (ACDC: sform without the spacing) reloads on the same grid.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "io/io_fixtures.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/io/nifti.hpp"
#include "modelmix/method/metrics.hpp"
#include "modelmix/method/predict.hpp"
#include "support/shared_manifest.hpp"
#include "support/skip.hpp"

namespace io = modelmix::io;
namespace data = modelmix::data;
namespace method = modelmix::method;
namespace fs = std::filesystem;
using modelmix::index_t;

TEST_CASE("shared data: ACDC val labels against themselves give Dice 1 and HD95 0", "[data][io][metrics]") {
  const fs::path root = MODELMIX_SHARED_DATA_DIR;
  if (!fs::exists(root / "acdc" / "val" / "labels")) MODELMIX_SKIP_TEST("no shared data at " + root.string());
  const auto labels = data::list_volumes(root / "acdc" / "val" / "labels");
  // Expected counts from the manifest: the labelled val volumes, and per patient its frames
  // (a patient with two frames has one ED and one ES).
  const auto expected = modelmix::test::shared_manifest(root).select("acdc", "val", "label");
  REQUIRE(!expected.empty());
  REQUIRE(labels.size() == expected.size());
  std::map<std::string, int> frames_per_patient;
  for (const auto& row : expected) ++frames_per_patient[row.at("case").substr(0, row.at("case").find("_frame"))];
  const auto paired = std::count_if(frames_per_patient.begin(), frames_per_patient.end(),
                                    [](const auto& p) { return p.second == 2; });
  REQUIRE(paired > 0);
  const auto set = data::acdc_labels();
  std::vector<std::string> names;
  for (const auto& [name, path] : labels) {
    names.push_back(name);
    const auto ref = set.to_labels(io::read_volume(path), data::LabelRole::dense, path.string());
    const data::label_t structures[] = {1, 2, 3};
    const auto scores = method::score_case(ref, ref, std::span<const data::label_t>(structures), ref.spacing);
    for (const auto& s : scores) {
      INFO(name);
      CHECK(s.status == method::EmptyStatus::none);
      CHECK(s.dice == 1.0);
      CHECK(*s.hd95 == 0.0);
      CHECK(*s.assd == 0.0);
    }
  }
  std::set<std::string> manifest_cases;
  for (const auto& row : expected) manifest_cases.insert(row.at("case"));
  CHECK(std::set<std::string>(names.begin(), names.end()) == manifest_cases);
  const auto phases = method::acdc_phases(names);
  CHECK(std::count_if(phases.begin(), phases.end(),
                      [](const auto& p) { return p.second == method::CardiacPhase::ed; }) == paired);
  CHECK(std::count_if(phases.begin(), phases.end(),
                      [](const auto& p) { return p.second == method::CardiacPhase::es; }) == paired);
}

TEST_CASE("shared data: a prediction written with the image's header keeps its grid", "[data][io][predict]") {
  const fs::path root = MODELMIX_SHARED_DATA_DIR;
  const fs::path image_path = root / "acdc" / "val" / "images" / "patient071_frame01.nii.gz";
  if (!fs::exists(image_path)) MODELMIX_SKIP_TEST("no shared data at " + root.string());
  const auto image = io::read_nifti<float>(image_path);
  // A stub model: label 3 where the z-scored intensity is high, cropped to 128 × 128.
  auto threshold = [](const modelmix::Tensor<float>& batch) {
    modelmix::Tensor<std::uint8_t> out(modelmix::Shape{batch.dim(0), batch.dim(2), batch.dim(3)});
    for (index_t i = 0; i < out.numel(); ++i) out[i] = batch[i] > 1.5f ? 3 : 0;
    return out;
  };
  const auto pred = method::predict_volume(image.volume, threshold, {128, 4, true, 0});
  modelmix::test::TempDir dir;
  const auto path = dir / "patient071_frame01.nii.gz";
  io::write_labels(path, pred, image.header);
  const auto back = io::read_nifti<float>(path);
  CHECK(back.volume.voxels.shape() == image.volume.voxels.shape());
  CHECK(back.volume.spacing == image.volume.spacing);
  CHECK(io::affine(back.header) == io::affine(image.header));
  CHECK(back.header.sform_code == image.header.sform_code);
  CHECK(back.header.qform_code == image.header.qform_code);
  const auto reloaded = data::acdc_labels().to_labels(back.volume, data::LabelRole::dense, path.string());
  CHECK(reloaded.voxels.storage() == pred.voxels.storage());
}
