#include <catch2/catch.hpp>

#include <algorithm>
#include <set>

#include "modelmix/data/phantom.hpp"
#include "modelmix/data/split.hpp"

using namespace modelmix;
using namespace modelmix::data;

TEST_CASE("few-scribble split picks N distinct volumes reproducibly", "[split]") {
  const few_scribble_split a = make_few_scribble_split(25, 5, 42);
  REQUIRE(a.scribbled.size() == 5);
  REQUIRE(a.unlabeled.size() == 20);
  std::set<index_t> all(a.scribbled.begin(), a.scribbled.end());
  CHECK(all.size() == 5);
  all.insert(a.unlabeled.begin(), a.unlabeled.end());
  CHECK(all.size() == 25);
  CHECK(*all.begin() == 0);
  CHECK(*all.rbegin() == 24);
  CHECK(std::is_sorted(a.scribbled.begin(), a.scribbled.end()));
  for (index_t v : a.scribbled) CHECK(a.is_scribbled(v));
  for (index_t v : a.unlabeled) CHECK_FALSE(a.is_scribbled(v));

  const few_scribble_split b = make_few_scribble_split(25, 5, 42);
  CHECK(a.scribbled == b.scribbled);
  bool differs = false;
  for (std::uint64_t seed = 1; seed < 5; ++seed) differs |= make_few_scribble_split(25, 5, seed).scribbled != a.scribbled;
  CHECK(differs);
  CHECK(make_few_scribble_split(3, 3, 1).unlabeled.empty());
  CHECK(make_few_scribble_split(3, 0, 1).scribbled.empty());
  CHECK_THROWS_WITH(make_few_scribble_split(3, 4, 1), Catch::Contains("4 scribbled volumes out of 3"));
}

TEST_CASE("seeded shuffle and permutation are reproducible", "[split]") {
  std::vector<int> x{1, 2, 3, 4, 5, 6, 7, 8, 9}, y = x, z = x;
  seeded_shuffle(x, 5);
  seeded_shuffle(y, 5);
  seeded_shuffle(z, 6);
  CHECK(x == y);
  CHECK(x != z);
  std::vector<int> sorted = x;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9});
  const auto p = seeded_permutation(50, 3);
  CHECK(p == seeded_permutation(50, 3));
  CHECK(std::set<index_t>(p.begin(), p.end()).size() == 50);
}

TEST_CASE("apply_split erases the scribbles of unlabeled volumes only", "[split]") {
  phantom_options o;
  o.width = o.height = 32;
  o.min_slices = o.max_slices = 2;
  auto cases = make_phantom_dataset(o, 5);
  const auto original = cases;
  const few_scribble_split split = make_few_scribble_split(5, 2, 7);
  apply_split(cases, split);
  for (index_t v = 0; v < 5; ++v) {
    const auto& s = cases[std::size_t(v)].scribble.voxels;
    if (split.is_scribbled(v)) {
      CHECK(s.storage() == original[std::size_t(v)].scribble.voxels.storage());
    } else {
      CHECK(std::all_of(s.span().begin(), s.span().end(), [](label_t l) { return l == 4; }));
      CHECK(cases[std::size_t(v)].label.voxels.storage() == original[std::size_t(v)].label.voxels.storage());
    }
  }
  cases.pop_back();
  const few_scribble_split too_many = make_few_scribble_split(5, 0, 1);
  CHECK_THROWS_WITH(apply_split(cases, too_many), Catch::Contains("out of range"));
}
