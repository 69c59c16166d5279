// Datasets on disk: pairing by case name, shape/spacing checks, declared label values and
// remapping — on small synthetic folders, and ([data]) on every volume of ../shared/data,
// cross-checked against its manifest.csv.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <sstream>

#include "io/io_fixtures.hpp"
#include "modelmix/data/dataset_folder.hpp"
#include "modelmix/io/nifti.hpp"
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

struct ManifestRow {
  std::map<std::string, std::string> field;
  [[nodiscard]] double num(const std::string& key) const { return std::stod(field.at(key)); }
  [[nodiscard]] bool has(const std::string& key) const { return !field.at(key).empty(); }
};

std::map<std::string, ManifestRow> read_manifest(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string cell;
    while (std::getline(ss, cell, ',')) out.push_back(cell);
    if (!s.empty() && s.back() == ',') out.emplace_back();
    return out;
  };
  const auto header = split(line);
  std::map<std::string, ManifestRow> rows;
  while (std::getline(in, line)) {
    const auto cells = split(line);
    ManifestRow row;
    for (std::size_t i = 0; i < header.size(); ++i) row.field[header[i]] = i < cells.size() ? cells[i] : "";
    rows[row.field["dataset"] + "/" + row.field["split"] + "/" + row.field["case"]] = row;
  }
  return rows;
}

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
  const auto manifest = read_manifest(root / "manifest.csv");
  REQUIRE(manifest.size() == 200);

  struct Expect {
    const char* dataset;
    const char* split;
    std::size_t cases;
    bool scribbles, labels;
  };
  const Expect splits[] = {{"acdc", "train", 140, true, false},
                           {"acdc", "val", 30, true, true},
                           {"mscmr", "train", 25, true, false},
                           {"mscmr", "val", 5, false, true}};
  const auto start = std::chrono::steady_clock::now();
  std::size_t total = 0;
  for (const auto& e : splits) {
    INFO(e.dataset << "/" << e.split);
    const auto files = data::scan_split(root, e.dataset, e.split);
    CHECK(files.cases.size() == e.cases);
    CHECK(files.has_scribbles == e.scribbles);
    CHECK(files.has_labels == e.labels);
    const auto cases = data::load_split(files, data::label_set_by_name(e.dataset), io::NiftiReader{});
    for (const auto& c : cases) {
      const auto& row = manifest.at(std::string(e.dataset) + "/" + e.split + "/" + c.name);
      INFO(c.name);
      REQUIRE(c.image.nx() == row.num("nx"));
      REQUIRE(c.image.ny() == row.num("ny"));
      REQUIRE(c.image.nz() == row.num("nz"));
      CHECK(c.image.spacing[0] == Approx(row.num("sx")).epsilon(1e-5));
      CHECK(c.image.spacing[1] == Approx(row.num("sy")).epsilon(1e-5));
      CHECK(c.image.spacing[2] == Approx(row.num("sz")).epsilon(1e-5));
      const auto [lo, hi] = std::minmax_element(c.image.voxels.storage().begin(), c.image.voxels.storage().end());
      CHECK(*lo == Approx(row.num("image_min")).margin(1e-3));
      CHECK(*hi == Approx(row.num("image_max")).epsilon(1e-5));  // after scl_slope for the 5 scaled MSCMR images
      if (c.label) {
        const auto n = count_values(*c.label);
        CHECK(n[0] == row.num("lab_bg"));
        CHECK(n[1] == row.num("lab_rv"));
        CHECK(n[2] == row.num("lab_myo"));
        CHECK(n[3] == row.num("lab_lv"));
      }
      if (c.scribble) {
        const auto n = count_values(*c.scribble);
        CHECK(n[0] == row.num("scr_bg"));
        CHECK(n[1] == row.num("scr_rv"));
        CHECK(n[2] == row.num("scr_myo"));
        CHECK(n[3] == row.num("scr_lv"));
        CHECK(n[4] == row.num("scr_unlabeled"));
      }
    }
    total += cases.size();
  }
  CHECK(total == 200);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "shared data: loaded " << total << " cases (images, scribbles, labels) in " << seconds << " s\n";
}
