// Datasets on disk: pairing by case name, shape/spacing checks, declared label values and
// remapping — on small synthetic folders, and ([data]) on every volume of ../shared/data,
// cross-checked against its manifest.csv.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <fstream>
#include <sstream>

#include "io/io_fixtures.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/io/nifti.hpp"
#include "support/shared_manifest.hpp"
#include "support/skip.hpp"

namespace io = modelmix::io;
namespace data = modelmix::data;
namespace fs = std::filesystem;
using Catch::Contains;
using modelmix::index_t;
using modelmix::Shape;
using modelmix::Tensor;
using modelmix::test::TempDir;

namespace {

data::Volume<float> filled(Shape shape, std::vector<float> pattern, std::array<double, 3> spacing = {1.25, 1.25, 8.0}) {
  data::Volume<float> v{Tensor<float>(std::move(shape)), spacing, ""};
  for (index_t i = 0; i < v.voxels.numel(); ++i) v.voxels[i] = pattern[static_cast<std::size_t>(i) % pattern.size()];
  return v;
}

// <root>/toy/train with cases a and b: images, scribbles (uint16, 4 = unlabeled), labels (uint8).
fs::path make_toy_split(const TempDir& dir) {
  const fs::path split = dir.path() / "toy" / "train";
  for (const char* kind : {"images", "scribbles", "labels"}) fs::create_directories(split / kind);
  for (const std::string name : {"b", "a"}) {
    io::write_nifti(split / "images" / (name + ".nii.gz"), filled({3, 4, 5}, {10, 20, 30.5f}),
                    io::WriteOptions{DT_FLOAT32});
    io::write_nifti(split / "scribbles" / (name + ".nii.gz"), filled({3, 4, 5}, {4, 4, 0, 1, 2, 3, 4}),
                    io::WriteOptions{DT_UINT16});
    io::write_nifti(split / "labels" / (name + ".nii.gz"), filled({3, 4, 5}, {0, 1, 2, 3}), io::WriteOptions{DT_UINT8});
  }
  return split;
}

}  // namespace

TEST_CASE("dataset folder: cases pair by name and load with checked labels", "[io][dataset]") {
  TempDir dir;
  const fs::path split = make_toy_split(dir);
  std::ofstream(split / "images" / ".a.nii.gz.123-0.tmp") << "unfinished write";  // hidden: ignored
  std::ofstream(split / "images" / "notes.txt") << "not a volume";                // not NIfTI: ignored

  const auto files = data::scan_split(dir.path(), "toy", "train");
  REQUIRE(files.cases.size() == 2);
  CHECK(files.has_scribbles);
  CHECK(files.has_labels);
  CHECK(files.cases[0].name == "a");
  CHECK(files.cases[1].name == "b");
  CHECK(files.cases[0].scribble->filename() == "a.nii.gz");

  const auto cases = data::load_split(files, data::acdc_labels(), io::NiftiReader{});
  REQUIRE(cases.size() == 2);
  const auto& a = cases[0];
  CHECK(a.name == "a");
  CHECK(a.image.name == "a");
  CHECK(a.image.voxels.shape() == Shape{3, 4, 5});
  CHECK(a.image.voxels[2] == 30.5f);
  CHECK(a.image.spacing == std::array<double, 3>{1.25, 1.25, 8.0});
  REQUIRE(a.scribble);
  REQUIRE(a.label);
  for (index_t i = 0; i < 60; ++i) {
    REQUIRE(int{a.scribble->voxels[i]} == std::vector<int>{4, 4, 0, 1, 2, 3, 4}[static_cast<std::size_t>(i % 7)]);
    REQUIRE(int{a.label->voxels[i]} == i % 4);
  }
}

TEST_CASE("dataset folder: pairing, grid and label errors name the file", "[io][dataset][errors]") {
  TempDir dir;
  const fs::path split = make_toy_split(dir);

  SECTION("an image without its scribble") {
    fs::remove(split / "scribbles" / "b.nii.gz");
    CHECK_THROWS_WITH(data::scan_split(split), Contains("scribbles") && Contains("no scribbles file for image(s) b"));
  }
  SECTION("a label without its image") {
    io::write_nifti(split / "labels" / "c.nii.gz", filled({3, 4, 5}, {0}), io::WriteOptions{DT_UINT8});
    CHECK_THROWS_WITH(data::scan_split(split), Contains("labels") && Contains("without an image") && Contains("c"));
  }
  SECTION("two files for one case") {
    io::write_nifti(split / "images" / "a.nii", filled({3, 4, 5}, {0}));
    CHECK_THROWS_WITH(data::scan_split(split), Contains("a.nii") && Contains("two files"));
  }
  SECTION("entries named like volumes that are not files are errors, not skipped") {
    fs::create_symlink(dir.path() / "absent.nii.gz", split / "images" / "ghost.nii.gz");
    CHECK_THROWS_WITH(data::scan_split(split), Contains("images/ghost.nii.gz is a dangling symbolic link"));
    fs::remove(split / "images" / "ghost.nii.gz");
    fs::create_directories(split / "labels" / "folder.nii.gz");
    CHECK_THROWS_WITH(data::list_volumes(split / "labels"), Contains("labels/folder.nii.gz is a folder"));
    fs::remove(split / "labels" / "folder.nii.gz");
    CHECK(data::list_volumes(split / "labels").size() == 2);
  }
  SECTION("no images folder, or an empty one") {
    CHECK_THROWS_WITH(data::scan_split(dir.path() / "toy"), Contains("no images/ folder"));
    fs::create_directories(dir.path() / "empty" / "images");
    CHECK_THROWS_WITH(data::scan_split(dir.path() / "empty"), Contains("holds no .nii"));
  }
  SECTION("a scribble of another shape") {
    io::write_nifti(split / "scribbles" / "b.nii.gz", filled({3, 4, 6}, {4}), io::WriteOptions{DT_UINT16});
    CHECK_THROWS_WITH(data::load_split(data::scan_split(split), data::acdc_labels(), io::NiftiReader{}),
                      Contains("scribbles/b.nii.gz") && Contains("shape") && Contains("images/b.nii.gz"));
  }
  SECTION("a label with another spacing") {
    io::write_nifti(split / "labels" / "a.nii.gz", filled({3, 4, 5}, {0}, {1.25, 1.25, 10.0}),
                    io::WriteOptions{DT_UINT8});
    CHECK_THROWS_WITH(data::load_split(data::scan_split(split), data::acdc_labels(), io::NiftiReader{}),
                      Contains("labels/a.nii.gz") && Contains("spacing"));
  }
  SECTION("undeclared label values") {
    io::write_nifti(split / "labels" / "b.nii.gz", filled({3, 4, 5}, {0, 1, 4}), io::WriteOptions{DT_UINT8});
    CHECK_THROWS_WITH(data::load_split(data::scan_split(split), data::acdc_labels(), io::NiftiReader{}),
                      Contains("labels/b.nii.gz") && Contains("value 4 at voxel (x=2, y=0, z=0)") &&
                          Contains("dense label") && Contains("20 voxel(s)"));
    io::write_nifti(split / "labels" / "b.nii.gz", filled({3, 4, 5}, {0}), io::WriteOptions{DT_UINT8});
    io::write_nifti(split / "scribbles" / "a.nii.gz", filled({3, 4, 5}, {4, 7}), io::WriteOptions{DT_UINT16});
    CHECK_THROWS_WITH(data::load_split(data::scan_split(split), data::acdc_labels(), io::NiftiReader{}),
                      Contains("scribbles/a.nii.gz") && Contains("value 7") && Contains("4 unlabeled"));
    io::write_nifti(split / "scribbles" / "a.nii.gz", filled({3, 4, 5}, {4, 1.5f}), io::WriteOptions{DT_FLOAT32});
    CHECK_THROWS_WITH(data::load_split(data::scan_split(split), data::acdc_labels(), io::NiftiReader{}),
                      Contains("scribbles/a.nii.gz") && Contains("value 1.5"));
  }
}

TEST_CASE("label set: remapping another convention on load", "[io][dataset]") {
  // The original MS-CMRSeg coding: 200 Myo, 500 LV, 600 RV.
  data::LabelSet set = data::mscmr_labels();
  set.remap = {{0, 0}, {200, 2}, {500, 3}, {600, 1}};
  const auto raw = filled({1, 2, 3}, {0, 200, 500, 600, 500, 0});
  const auto labels = set.to_labels(raw, data::LabelRole::dense, "raw.nii");
  CHECK(labels.voxels.storage() == std::vector<data::label_t>{0, 2, 3, 1, 3, 0});
  CHECK_THROWS_WITH(set.to_labels(filled({1, 1, 2}, {0, 3}), data::LabelRole::dense, "raw.nii"),
                    Contains("raw.nii") && Contains("value 3") && Contains("after remapping"));
  CHECK_THROWS_WITH(data::label_set_by_name("myops"), Contains("myops"));
  CHECK(data::label_set_by_name("acdc").describe(data::LabelRole::scribble) == "0 bg, 1 RV, 2 Myo, 3 LV, 4 unlabeled");
}

// ---- the real data ------------------------------------------------------------------------

namespace {

std::array<index_t, 5> count_values(const data::LabelVolume& v) {
  std::array<index_t, 5> counts{};
  for (auto x : v.voxels.storage()) ++counts[x];
  return counts;
}

}  // namespace

TEST_CASE("shared data: every volume loads, pairs, has declared labels and matches the manifest",
          "[data][io][dataset]") {
  const fs::path root = MODELMIX_SHARED_DATA_DIR;
  if (!fs::exists(root / "manifest.csv")) MODELMIX_SKIP_TEST("no shared data at " + root.string());
  // Every count comes from the manifest: the splits it lists, their cases, which have
  // scribbles and labels, and per-volume sizes, spacing, intensities and label counts.
  const modelmix::test::shared_manifest manifest(root);
  REQUIRE(!manifest.rows().empty());
  std::map<std::pair<std::string, std::string>, std::map<std::string, modelmix::test::shared_manifest::row>> splits;
  for (const auto& row : manifest.rows()) splits[{row.at("dataset"), row.at("split")}][row.at("case")] = row;
  auto num = [](const modelmix::test::shared_manifest::row& row, const std::string& key) { return std::stod(row.at(key)); };

  const auto start = std::chrono::steady_clock::now();
  std::size_t total = 0;
  for (const auto& [key, rows] : splits) {
    const auto& [dataset, split] = key;
    INFO(dataset << "/" << split);
    const bool scribbles = std::any_of(rows.begin(), rows.end(), [](const auto& r) { return !r.second.at("scribble").empty(); });
    const bool labels = std::any_of(rows.begin(), rows.end(), [](const auto& r) { return !r.second.at("label").empty(); });
    const auto files = data::scan_split(root, dataset, split);
    CHECK(files.cases.size() == rows.size());
    CHECK(files.has_scribbles == scribbles);
    CHECK(files.has_labels == labels);
    const auto cases = data::load_split(files, data::label_set_by_name(dataset), io::NiftiReader{});
    for (const auto& c : cases) {
      INFO(c.name);
      REQUIRE(rows.contains(c.name));
      const auto& row = rows.at(c.name);
      REQUIRE(c.image.nx() == num(row, "nx"));
      REQUIRE(c.image.ny() == num(row, "ny"));
      REQUIRE(c.image.nz() == num(row, "nz"));
      CHECK(c.image.spacing[0] == Approx(num(row, "sx")).epsilon(1e-5));
      CHECK(c.image.spacing[1] == Approx(num(row, "sy")).epsilon(1e-5));
      CHECK(c.image.spacing[2] == Approx(num(row, "sz")).epsilon(1e-5));
      const auto [lo, hi] = std::minmax_element(c.image.voxels.storage().begin(), c.image.voxels.storage().end());
      CHECK(*lo == Approx(num(row, "image_min")).margin(1e-3));
      CHECK(*hi == Approx(num(row, "image_max")).epsilon(1e-5));  // after scl_slope for the 5 scaled MSCMR images
      CHECK(c.label.has_value() == !row.at("label").empty());
      CHECK(c.scribble.has_value() == !row.at("scribble").empty());
      if (c.label) {
        const auto n = count_values(*c.label);
        CHECK(n[0] == num(row, "lab_bg"));
        CHECK(n[1] == num(row, "lab_rv"));
        CHECK(n[2] == num(row, "lab_myo"));
        CHECK(n[3] == num(row, "lab_lv"));
      }
      if (c.scribble) {
        const auto n = count_values(*c.scribble);
        CHECK(n[0] == num(row, "scr_bg"));
        CHECK(n[1] == num(row, "scr_rv"));
        CHECK(n[2] == num(row, "scr_myo"));
        CHECK(n[3] == num(row, "scr_lv"));
        CHECK(n[4] == num(row, "scr_unlabeled"));
      }
    }
    total += cases.size();
  }
  CHECK(total == manifest.rows().size());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "shared data: loaded " << total << " cases (images, scribbles, labels) in " << seconds << " s\n";
}
