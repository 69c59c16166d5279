#pragma once
// Label conventions of a dataset, checked on load.
//
// A LabelSet names the class ids 0..C−1 (ACDC and MS-CMR: 0 background, 1 RV, 2 Myo, 3 LV)
// and the scribble value that means "unlabeled" (4, ignored by the losses). Dense labels may
// hold only class ids; scribbles may also hold the unlabeled value. Files in another
// convention are translated on load through `remap` (raw value → class id, or → unlabeled),
// e.g. the original MS-CMRSeg coding {0: bg, 200: Myo, 500: LV, 600: RV}. Every voxel is
// checked: a non-integer or undeclared value is an error naming the file, the value, the
// first voxel (x, y, z) that holds it and how many voxels do.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/data/volume.hpp"

namespace modelmix::data {

enum class LabelRole { dense, scribble };

struct LabelSet {
  std::string name;
  std::vector<std::string> classes;  // index = class id; class 0 is the background
  label_t unlabeled = 4;             // scribble value for "no annotation"
  std::map<long, label_t> remap;     // raw → class id (or unlabeled); empty: raw values are ids

  [[nodiscard]] int num_classes() const { return static_cast<int>(classes.size()); }

  [[nodiscard]] bool allowed(long value, LabelRole role) const {
    return (value >= 0 && value < num_classes()) || (role == LabelRole::scribble && value == unlabeled);
  }

  // "0 bg, 1 RV, 2 Myo, 3 LV" (+ ", 4 unlabeled" for scribbles), for messages.
  [[nodiscard]] std::string describe(LabelRole role) const {
    std::string s;
    for (int c = 0; c < num_classes(); ++c) s += cat(c ? ", " : "", c, " ", classes[static_cast<std::size_t>(c)]);
    if (role == LabelRole::scribble) s += cat(", ", int{unlabeled}, " unlabeled");
    return s;
  }

  // Raw voxel values (any numeric type, as read from disk) → checked class ids.
  template <class T>
  [[nodiscard]] LabelVolume to_labels(const Volume<T>& raw, LabelRole role, const std::string& file) const {
    LabelVolume out{Tensor<label_t>(raw.voxels.shape()), raw.spacing, raw.name};
    Bad bad;
    const index_t n = raw.voxels.numel();
    for (index_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(raw.voxels[i]);
      const double r = std::nearbyint(v);
      if (r != v || !(std::fabs(r) < 1e15)) {
        bad.note(v, i);
        continue;
      }
      long id = static_cast<long>(r);
      if (!remap.empty()) {
        const auto it = remap.find(id);
        if (it == remap.end()) {
          bad.note(v, i);
          continue;
        }
        id = it->second;
      }
      if (!allowed(id, role)) {
        bad.note(v, i);
        continue;
      }
      out.voxels[i] = static_cast<label_t>(id);
    }
    if (bad.count > 0) fail(bad, raw, role, file);
    return out;
  }

  // Validate a volume that already holds class ids.
  template <class L>
  void check(const Volume<L>& labels, LabelRole role, const std::string& file) const {
    Bad bad;
    for (index_t i = 0; i < labels.voxels.numel(); ++i) {
      const auto v = labels.voxels[i];
      if (!allowed(static_cast<long>(v), role)) bad.note(static_cast<double>(v), i);
    }
    if (bad.count > 0) fail(bad, labels, role, file);
  }

 private:
  struct Bad {
    double value = 0;
    index_t first = -1, count = 0;
    void note(double v, index_t i) {
      if (count++ == 0) {
        value = v;
        first = i;
      }
    }
  };
  template <class V>
  [[noreturn]] void fail(const Bad& bad, const V& volume, LabelRole role, const std::string& file) const {
    const index_t nx = volume.nx(), ny = volume.ny();
    throw error(cat("label set ", name, ": ", file, ": value ", bad.value, " at voxel (x=", bad.first % nx,
                    ", y=", (bad.first / nx) % ny, ", z=", bad.first / (nx * ny), ") is not a declared ",
                    role == LabelRole::dense ? "dense label" : "scribble", " value (", describe(role),
                    remap.empty() ? "" : ", after remapping", "); ", bad.count, " voxel(s) affected"));
  }
};

// ACDC (cine bSSFP) and MS-CMRSeg 2019 (LGE) as packaged by BWGZK/ModelMix and BWGZK/CycleMix.
[[nodiscard]] inline LabelSet acdc_labels() { return {"acdc", {"bg", "RV", "Myo", "LV"}, 4, {}}; }
[[nodiscard]] inline LabelSet mscmr_labels() { return {"mscmr", {"bg", "RV", "Myo", "LV"}, 4, {}}; }

[[nodiscard]] inline LabelSet label_set_by_name(const std::string& name) {
  if (name == "acdc") return acdc_labels();
  if (name == "mscmr") return mscmr_labels();
  throw error(cat("label_set_by_name: unknown label set '", name, "' (known: acdc, mscmr)"));
}

}  // namespace modelmix::data
