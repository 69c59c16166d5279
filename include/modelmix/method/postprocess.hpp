#pragma once
// Post-processing of a predicted label volume.
//
// keep_largest_component: for every foreground class, keep only its largest 3D connected
// component (6-connectivity) and give the other voxels of that class `fill` (background). The
// heart's structures are each one connected body, so isolated islands — e.g. bright body wall
// taken for blood pool — are false positives. A standard step in cardiac segmentation
// pipelines; an explicit option (PredictOptions::largest_component), never applied silently.
#include <cstdint>
#include <vector>

#include "modelmix/data/volume.hpp"

namespace modelmix::method {

inline void keep_largest_component(data::LabelVolume& labels, data::label_t fill = 0) {
  const index_t Z = labels.nz(), Y = labels.ny(), X = labels.nx(), n = Z * Y * X;
  Tensor<data::label_t>& v = labels.voxels;
  std::vector<std::int32_t> component(static_cast<std::size_t>(n), -1);
  std::vector<index_t> stack;
  std::vector<index_t> sizes;
  std::vector<data::label_t> classes;
  for (index_t seed = 0; seed < n; ++seed) {
    if (v[seed] == fill || component[std::size_t(seed)] >= 0) continue;
    const data::label_t cls = v[seed];
    const auto id = std::int32_t(sizes.size());
    index_t size = 0;
    stack.assign(1, seed);
    component[std::size_t(seed)] = id;
    while (!stack.empty()) {
      const index_t i = stack.back();
      stack.pop_back();
      ++size;
      const index_t x = i % X, y = (i / X) % Y, z = i / (X * Y);
      const index_t neighbours[6] = {x > 0 ? i - 1 : -1,          x + 1 < X ? i + 1 : -1,
                                     y > 0 ? i - X : -1,          y + 1 < Y ? i + X : -1,
                                     z > 0 ? i - X * Y : -1,      z + 1 < Z ? i + X * Y : -1};
      for (index_t j : neighbours)
        if (j >= 0 && v[j] == cls && component[std::size_t(j)] < 0) {
          component[std::size_t(j)] = id;
          stack.push_back(j);
        }
    }
    sizes.push_back(size);
    classes.push_back(cls);
  }
  // The largest component of each class survives.
  std::vector<std::int32_t> best(256, -1);
  for (std::size_t c = 0; c < sizes.size(); ++c)
    if (best[classes[c]] < 0 || sizes[c] > sizes[std::size_t(best[classes[c]])]) best[classes[c]] = std::int32_t(c);
  for (index_t i = 0; i < n; ++i)
    if (component[std::size_t(i)] >= 0 && best[v[i]] != component[std::size_t(i)]) v[i] = fill;
}

}  // namespace modelmix::method
