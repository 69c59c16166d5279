#pragma once
// The few-scribble split: of a task's V training volumes, N keep their scribbles and the
// rest become unlabeled (every scribble voxel set to 4), as in the reference code, which
// shuffles the volume list and tags all but the first N (data/mscmr.py, label_num = 5).
// The choice is a seeded Fisher–Yates shuffle (data/random.hpp), so a seed names the split.
// The original's MS-CMR loader instead keeps the first N volumes in sorted file order
// (split_order::sorted); the caller lists the volumes sorted (data::list_volumes does).
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <string>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/data/random.hpp"
#include "modelmix/data/slices.hpp"
#include "modelmix/data/volume.hpp"

namespace modelmix::data {

struct few_scribble_split {
  std::vector<index_t> scribbled;  // ascending
  std::vector<index_t> unlabeled;  // ascending

  [[nodiscard]] bool is_scribbled(index_t volume) const {
    return std::binary_search(scribbled.begin(), scribbled.end(), volume);
  }
};

template <class Range>
void seeded_shuffle(Range& range, std::uint64_t seed) {
  random_source rng(seed);
  rng.shuffle(range);
}

enum class split_order { seeded_shuffle, sorted };

[[nodiscard]] inline const char* to_string(split_order o) { return o == split_order::sorted ? "sorted" : "seeded"; }
[[nodiscard]] inline split_order parse_split_order(const std::string& s) {
  if (s == "seeded") return split_order::seeded_shuffle;
  if (s == "sorted") return split_order::sorted;
  throw error(cat("unknown split order '", s, "' (expected seeded or sorted)"));
}

[[nodiscard]] inline few_scribble_split make_few_scribble_split(index_t volume_count, index_t scribbled_count,
                                                                std::uint64_t seed,
                                                                split_order order_kind = split_order::seeded_shuffle) {
  MODELMIX_REQUIRE(scribbled_count >= 0 && scribbled_count <= volume_count, "make_few_scribble_split: cannot keep ",
                   scribbled_count, " scribbled volumes out of ", volume_count);
  std::vector<index_t> order(static_cast<std::size_t>(volume_count));
  if (order_kind == split_order::sorted)
    for (index_t i = 0; i < volume_count; ++i) order[std::size_t(i)] = i;
  else
    order = seeded_permutation(volume_count, seed);
  few_scribble_split split;
  split.scribbled.assign(order.begin(), order.begin() + scribbled_count);
  split.unlabeled.assign(order.begin() + scribbled_count, order.end());
  std::sort(split.scribbled.begin(), split.scribbled.end());
  std::sort(split.unlabeled.begin(), split.unlabeled.end());
  return split;
}

inline void erase_scribbles(LabelVolume& scribble, label_t unlabeled = unlabeled_label) { scribble.voxels.fill(unlabeled); }

// Erase the scribbles of every unlabeled volume of `cases` (anything with a LabelVolume
// member `scribble`, e.g. phantom_case).
template <class Case>
  requires requires(Case c) {
    { c.scribble } -> std::convertible_to<LabelVolume&>;
  }
void apply_split(std::vector<Case>& cases, const few_scribble_split& split, label_t unlabeled = unlabeled_label) {
  for (index_t v : split.unlabeled) {
    MODELMIX_REQUIRE(v >= 0 && v < index_t(cases.size()), "apply_split: volume ", v, " out of range for ", cases.size(),
                     " cases");
    erase_scribbles(cases[std::size_t(v)].scribble, unlabeled);
  }
}

}  // namespace modelmix::data
