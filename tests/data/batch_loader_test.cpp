#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

#include "modelmix/data/batch_loader.hpp"
#include "modelmix/data/phantom.hpp"

using namespace modelmix;
using namespace modelmix::data;

namespace {

// Two small phantom volumes (one without scribbles) as 2D slices of 48×48.
std::shared_ptr<const std::vector<slice_sample>> small_slices() {
  phantom_options o;
  o.width = o.height = 48;
  o.min_slices = o.max_slices = 5;
  const auto cases = make_phantom_dataset(o, 2);
  slice_options so;
  so.size = 48;
  auto slices = volume_slices(cases[0].image, &cases[0].scribble, &cases[0].label, so, 0);
  auto more = volume_slices(cases[1].image, nullptr, &cases[1].label, so, 1);
  slices.insert(slices.end(), more.begin(), more.end());
  return std::make_shared<const std::vector<slice_sample>>(std::move(slices));
}

bool same(const slice_batch& a, const slice_batch& b) {
  return a.image.storage() == b.image.storage() && a.scribble.storage() == b.scribble.storage() &&
         a.label.storage() == b.label.storage() && a.slices == b.slices && a.index == b.index;
}

std::vector<slice_batch> take(batch_loader& loader, int n) {
  std::vector<slice_batch> out;
  for (int i = 0; i < n; ++i) out.push_back(loader.next());
  return out;
}

}  // namespace

TEST_CASE("batch loader: batches depend only on the seed", "[batch_loader]") {
  const auto slices = small_slices();
  batch_loader_options o;
  o.batch_size = 4;
  o.seed = 11;
  batch_loader a(slices, o), b(slices, o);
  const auto first = take(a, 7), second = take(b, 7);  // 28 samples: crosses two epochs of 10
  for (int i = 0; i < 7; ++i) {
    INFO("batch " << i);
    CHECK(first[std::size_t(i)].index == i);
    CHECK(same(first[std::size_t(i)], second[std::size_t(i)]));
  }
  REQUIRE(first[0].image.shape() == Shape({4, 1, 48, 48}));
  REQUIRE(first[0].scribble.shape() == Shape({4, 48, 48}));
  REQUIRE(first[0].label.shape() == Shape({4, 48, 48}));

  // The same stream without the worker thread.
  o.background = false;
  batch_loader sync(slices, o);
  for (int i = 0; i < 7; ++i) CHECK(same(sync.next(), first[std::size_t(i)]));
  CHECK(sync.batches_delivered() == 7);

  // Another seed, another stream.
  o.seed = 12;
  batch_loader other(slices, o);
  const auto third = take(other, 3);
  CHECK_FALSE(same(third[0], first[0]));
  CHECK(third[1].image.storage() != first[1].image.storage());
}

TEST_CASE("batch loader: an epoch visits every pool entry once", "[batch_loader]") {
  const auto slices = small_slices();
  batch_loader_options o;
  o.batch_size = 5;
  o.augment = false;
  o.scribbled_repeat = 3;  // volume 0 has scribbles: its 5 slices appear 3 times
  batch_loader loader(slices, o);
  CHECK(loader.pool_size() == 20);
  CHECK(loader.batches_per_epoch() == 4);
  std::map<index_t, int> seen;
  for (const slice_batch& b : take(loader, 4))
    for (index_t s : b.slices) ++seen[s];
  REQUIRE(seen.size() == 10);
  for (auto [slice, count] : seen) CHECK(count == ((*slices)[std::size_t(slice)].volume == 0 ? 3 : 1));
  // Without augmentation a sample is the stored slice.
  const slice_batch b = batch_loader(slices, o).next();
  const slice_sample& s = (*slices)[std::size_t(b.slices[0])];
  CHECK(std::equal(s.image.span().begin(), s.image.span().end(), b.image.data()));
  CHECK(std::equal(s.scribble.span().begin(), s.scribble.span().end(), b.scribble.data()));

  o.shuffle = false;
  o.scribbled_repeat = 1;
  batch_loader ordered(slices, o);
  CHECK(ordered.next().slices == std::vector<index_t>{0, 1, 2, 3, 4});
  CHECK(ordered.next().slices == std::vector<index_t>{5, 6, 7, 8, 9});
  CHECK(ordered.next().slices == std::vector<index_t>{0, 1, 2, 3, 4});
}

TEST_CASE("batch loader: worker errors reach the consumer in order", "[batch_loader]") {
  const auto slices = small_slices();
  for (bool background : {true, false}) {
    batch_loader_options o;
    o.batch_size = 2;
    o.background = background;
    int calls = 0;  // the transform runs once per sample, in batch order
    o.transform = [&calls](slice_sample&, random_source&) {
      if (++calls == 7) throw modelmix::error("transform failed on sample 7");
    };
    batch_loader loader(slices, o);
    CHECK(loader.next().index == 0);
    CHECK(loader.next().index == 1);
    CHECK(loader.next().index == 2);
    CHECK_THROWS_WITH(loader.next(), Catch::Contains("sample 7"));
    if (background) CHECK_THROWS_WITH(loader.next(), Catch::Contains("sample 7"));
  }
}

TEST_CASE("batch loader: shuts down cleanly and validates its input", "[batch_loader]") {
  const auto slices = small_slices();
  for (int consumed = 0; consumed < 3; ++consumed) {
    batch_loader loader(slices, {});
    for (int i = 0; i < consumed; ++i) (void)loader.next();
  }  // the destructor stops a worker that is waiting or still building
  batch_loader_options o;
  o.batch_size = 0;
  CHECK_THROWS_WITH(batch_loader(slices, o), Catch::Contains("batch_size"));
  CHECK_THROWS_WITH(batch_loader(std::vector<slice_sample>{}, batch_loader_options{}), Catch::Contains("no slices"));

  // A batch mixing samples with and without dense labels has none.
  std::vector<slice_sample> mixed(slices->begin(), slices->begin() + 2);
  mixed[1].label = {};
  o = {};
  o.batch_size = 2;
  o.shuffle = false;
  CHECK(batch_loader(mixed, o).next().label.empty());
  mixed[1].scribble = Tensor<label_t>(Shape{40, 40});
  o.augment = false;
  batch_loader broken(mixed, o);
  CHECK_THROWS_WITH(broken.next(), Catch::Contains("stack_samples: sample 1"));
}
