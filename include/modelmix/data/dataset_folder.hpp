#pragma once
// Datasets on disk, one folder per split:
//
//   <root>/<dataset>/<split>/images/<case>.nii.gz      required, one volume per case
//   <root>/<dataset>/<split>/scribbles/<case>.nii.gz   optional folder; if present, one per image
//   <root>/<dataset>/<split>/labels/<case>.nii.gz      optional folder; if present, one per image
//
// Files pair by case name (the file name without .nii / .nii.gz). scan_split() checks the
// pairing from the names alone; load_case() reads the volumes through a Reader (a callable
// path → Volume<float>; io::NiftiReader when the modelmix::nifti target is linked, which
// keeps this header free of nifti_clib), checks that scribble and label have the image's
// shape and spacing, and converts them to class ids through a LabelSet. A NaN or ±Inf image
// voxel is refused naming the file and voxel (i, j, k), or set to 0 when
// LoadOptions::nonfinite says so (io::NiftiReader applies its own ReadOptions::nonfinite
// while decoding, where it also sees values that overflow float after scaling).
#include <algorithm>
#include <array>
#include <cmath>
#include <exception>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/data/label_set.hpp"
#include "modelmix/data/volume.hpp"

namespace modelmix::data {

namespace fs = std::filesystem;

struct CaseFiles {
  std::string name;
  fs::path image;
  std::optional<fs::path> scribble;
  std::optional<fs::path> label;
};

struct SplitFiles {
  fs::path folder;
  std::vector<CaseFiles> cases;  // sorted by name
  bool has_scribbles = false;
  bool has_labels = false;
};

struct LoadOptions {
  nonfinite_policy nonfinite = nonfinite_policy::refuse;  // for image voxels
};

struct Case {
  std::string name;
  ImageVolume image;
  std::optional<LabelVolume> scribble;  // class ids and LabelSet::unlabeled
  std::optional<LabelVolume> label;     // class ids
};

[[nodiscard]] inline std::string case_name(const fs::path& path) {
  std::string name = path.filename().string();
  for (const std::string ext : {".nii.gz", ".nii"})
    if (name.size() > ext.size() && name.ends_with(ext)) return name.substr(0, name.size() - ext.size());
  return name;
}

// True for names a volume listing considers: *.nii or *.nii.gz, not hidden (hidden files are
// unfinished atomic writes and editor leftovers).
[[nodiscard]] inline bool is_volume_name(const std::string& file) {
  return !file.empty() && file[0] != '.' && (file.ends_with(".nii") || file.ends_with(".nii.gz"));
}

// Why an entry named like a volume cannot be read as one ("a dangling symbolic link", "a
// folder", "a FIFO", ...), or nullptr for a regular file (or a link to one).
[[nodiscard]] inline const char* unreadable_volume_entry(const fs::path& entry) {
  std::error_code ec;
  const fs::file_status status = fs::status(entry, ec);  // follows links
  if (fs::is_symlink(fs::symlink_status(entry, ec)) && !fs::exists(status)) return "a dangling symbolic link";
  if (fs::is_regular_file(status)) return nullptr;
  return fs::is_directory(status) ? "a folder"
         : fs::is_fifo(status)    ? "a FIFO"
         : fs::is_socket(status)  ? "a socket"
                                  : "not a regular file";
}

// The .nii / .nii.gz files of a folder as case name → path. An entry named like a volume that is
// not a readable regular file (dangling link, folder, FIFO) is an error naming it: skipping it
// would silently drop a case. Two files for one case (x.nii and x.nii.gz) are an error.
[[nodiscard]] inline std::map<std::string, fs::path> list_volumes(const fs::path& folder) {
  std::error_code ec;
  MODELMIX_REQUIRE(fs::is_directory(folder, ec), "list_volumes: ", folder.string(), " is not a folder");
  std::map<std::string, fs::path> out;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string file = entry.path().filename().string();
    if (!is_volume_name(file)) continue;
    const char* problem = unreadable_volume_entry(entry.path());
    MODELMIX_REQUIRE(problem == nullptr, "list_volumes: ", entry.path().string(), " is ", problem,
                     ", not a volume file");
    const auto [it, inserted] = out.emplace(case_name(entry.path()), entry.path());
    MODELMIX_REQUIRE(inserted, "list_volumes: ", folder.string(), ": case ", it->first, " has two files, ",
                     it->second.filename().string(), " and ", file);
  }
  MODELMIX_REQUIRE(!ec, "list_volumes: cannot list ", folder.string(), ": ", ec.message());
  return out;
}

namespace detail {
// Every image has a partner in `kind`, and every file there has an image; lists up to 5 misses.
inline void check_pairing(const std::map<std::string, fs::path>& images, const std::map<std::string, fs::path>& others,
                          const fs::path& folder, const char* kind) {
  std::vector<std::string> missing, orphans;
  for (const auto& [name, path] : images)
    if (!others.contains(name)) missing.push_back(name);
  for (const auto& [name, path] : others)
    if (!images.contains(name)) orphans.push_back(name);
  auto list = [](const std::vector<std::string>& names) {
    std::string s;
    for (std::size_t i = 0; i < names.size() && i < 5; ++i) s += (i ? ", " : "") + names[i];
    return names.size() > 5 ? cat(s, " and ", names.size() - 5, " more") : s;
  };
  MODELMIX_REQUIRE(missing.empty(), "scan_split: ", (folder / kind).string(), ": no ", kind, " file for image(s) ",
                   list(missing));
  MODELMIX_REQUIRE(orphans.empty(), "scan_split: ", (folder / kind).string(), ": file(s) without an image in ",
                   (folder / "images").string(), ": ", list(orphans));
}

inline bool same_spacing(const std::array<double, 3>& a, const std::array<double, 3>& b) {
  for (std::size_t i = 0; i < 3; ++i)
    if (std::fabs(a[i] - b[i]) > 1e-4 * std::max(1.0, std::fabs(a[i]))) return false;
  return true;
}

template <class T, class U>
void check_same_grid(const Volume<T>& image, const fs::path& image_path, const Volume<U>& other,
                     const fs::path& other_path) {
  MODELMIX_REQUIRE(image.voxels.shape() == other.voxels.shape(), "load_case: ", other_path.string(), " has shape ",
                   other.voxels.shape(), " (Z, Y, X) but its image ", image_path.string(), " has ",
                   image.voxels.shape());
  MODELMIX_REQUIRE(same_spacing(image.spacing, other.spacing), "load_case: ", other_path.string(), " has spacing ",
                   other.spacing[0], " x ", other.spacing[1], " x ", other.spacing[2], " mm but its image ",
                   image_path.string(), " has ", image.spacing[0], " x ", image.spacing[1], " x ", image.spacing[2]);
}
}  // namespace detail

// Pair the files of <split_folder>/{images,scribbles,labels} by case name.
[[nodiscard]] inline SplitFiles scan_split(const fs::path& split_folder) {
  std::error_code ec;
  MODELMIX_REQUIRE(fs::is_directory(split_folder / "images", ec), "scan_split: ", split_folder.string(),
                   " has no images/ folder");
  SplitFiles split;
  split.folder = split_folder;
  const auto images = list_volumes(split_folder / "images");
  MODELMIX_REQUIRE(!images.empty(), "scan_split: ", (split_folder / "images").string(),
                   " holds no .nii or .nii.gz file");
  std::map<std::string, fs::path> scribbles, labels;
  if (fs::exists(split_folder / "scribbles", ec)) {
    split.has_scribbles = true;
    scribbles = list_volumes(split_folder / "scribbles");
    detail::check_pairing(images, scribbles, split_folder, "scribbles");
  }
  if (fs::exists(split_folder / "labels", ec)) {
    split.has_labels = true;
    labels = list_volumes(split_folder / "labels");
    detail::check_pairing(images, labels, split_folder, "labels");
  }
  for (const auto& [name, path] : images) {
    CaseFiles c{name, path, std::nullopt, std::nullopt};
    if (split.has_scribbles) c.scribble = scribbles.at(name);
    if (split.has_labels) c.label = labels.at(name);
    split.cases.push_back(std::move(c));
  }
  return split;
}

[[nodiscard]] inline SplitFiles scan_split(const fs::path& root, const std::string& dataset, const std::string& split) {
  return scan_split(root / dataset / split);
}

// Read one case; Reader: path → Volume<float> (thread-safe if load_split runs in parallel).
template <class Reader>
[[nodiscard]] Case load_case(const CaseFiles& files, const LabelSet& labels, Reader&& read,
                             const LoadOptions& options = {}) {
  Case c{files.name, read(files.image), std::nullopt, std::nullopt};
  c.image.name = files.name;
  MODELMIX_REQUIRE(c.image.voxels.rank() == 3, "load_case: ", files.image.string(), " is not a 3-D volume");
  check_finite(c.image, options.nonfinite, cat("load_case: ", files.image.string()));
  if (files.scribble) {
    const Volume<float> raw = read(*files.scribble);
    detail::check_same_grid(c.image, files.image, raw, *files.scribble);
    c.scribble = labels.to_labels(raw, LabelRole::scribble, files.scribble->string());
    c.scribble->name = files.name;
  }
  if (files.label) {
    const Volume<float> raw = read(*files.label);
    detail::check_same_grid(c.image, files.image, raw, *files.label);
    c.label = labels.to_labels(raw, LabelRole::dense, files.label->string());
    c.label->name = files.name;
  }
  return c;
}

// Read all cases of a split (in parallel when OpenMP is on). The first failing case, in name
// order, is reported.
template <class Reader>
[[nodiscard]] std::vector<Case> load_split(const SplitFiles& split, const LabelSet& labels, Reader&& read,
                                           const LoadOptions& options = {}) {
  const auto n = static_cast<std::ptrdiff_t>(split.cases.size());
  std::vector<std::optional<Case>> loaded(split.cases.size());
  std::vector<std::exception_ptr> errors(split.cases.size());
#pragma omp parallel for schedule(dynamic)
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    try {
      loaded[static_cast<std::size_t>(i)] = load_case(split.cases[static_cast<std::size_t>(i)], labels, read, options);
    } catch (...) {
      errors[static_cast<std::size_t>(i)] = std::current_exception();
    }
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  std::vector<Case> cases;
  cases.reserve(loaded.size());
  for (auto& c : loaded) cases.push_back(std::move(*c));
  return cases;
}

}  // namespace modelmix::data
