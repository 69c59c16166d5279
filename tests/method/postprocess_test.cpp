#include <catch2/catch.hpp>

#include "modelmix/method/postprocess.hpp"

using namespace modelmix;

TEST_CASE("keep_largest_component removes the smaller islands of each class", "[method]") {
  data::LabelVolume v{Tensor<data::label_t>(Shape{3, 6, 6}), {1, 1, 1}, "case"};
  auto& t = v.voxels;
  // Class 3: a 2×2×2 block and a single far voxel; class 2: a bar touching the block (another
  // class, so it does not connect them) and a diagonal-only neighbour (not 6-connected).
  for (index_t z = 0; z < 2; ++z)
    for (index_t y = 1; y < 3; ++y)
      for (index_t x = 1; x < 3; ++x) t(z, y, x) = 3;
  t(2, 5, 5) = 3;
  for (index_t x = 0; x < 4; ++x) t(0, 3, x) = 2;
  t(1, 4, 4) = 2;
  method::keep_largest_component(v);
  CHECK(t(2, 5, 5) == 0);   // island removed
  CHECK(t(1, 2, 2) == 3);   // block kept
  CHECK(t(0, 3, 0) == 2);   // largest Myo component kept
  CHECK(t(1, 4, 4) == 0);   // diagonal neighbour is a separate (smaller) component
  index_t lv = 0;
  for (auto l : t.span()) lv += l == 3;
  CHECK(lv == 8);
}
