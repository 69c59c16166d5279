// ops::cuda::kernel_count, the one 32-bit check of every launch file: products up to INT_MAX
// pass, one more element is refused naming the op, an empty extent wins over huge ones, and a
// negative extent is an error rather than a wrapped count.
#include <catch2/catch.hpp>

#include <climits>

#include "modelmix/ops/cuda/kernel_count.hpp"

using modelmix::index_t;
using modelmix::ops::cuda::kernel_count;

TEST_CASE("kernel_count multiplies extents that fit 32-bit kernel indices", "[emu][kernel_count]") {
  CHECK(kernel_count("op", {3, 5, 7}) == 105);
  CHECK(kernel_count("op", {}) == 1);
  CHECK(kernel_count("op", {index_t(INT_MAX)}) == INT_MAX);
  CHECK(kernel_count("op", {1, index_t(INT_MAX), 1}) == INT_MAX);
  // An empty tensor needs no indices, whatever its other extents.
  CHECK(kernel_count("op", {index_t(1) << 40, 0, index_t(1) << 40}) == 0);
}

TEST_CASE("kernel_count refuses what would wrap, naming the op", "[emu][kernel_count]") {
  CHECK_THROWS_WITH(kernel_count("softmax_channels", {index_t(INT_MAX) + 1}),
                    Catch::Contains("softmax_channels") && Catch::Contains("32-bit"));
  // 2^16 · 2^15 = 2^31: one past INT_MAX, the product of extents that each fit.
  CHECK_THROWS_WITH(kernel_count("concat_channels", {index_t(1) << 16, index_t(1) << 15}),
                    Catch::Contains("concat_channels") && Catch::Contains("32-bit"));
  CHECK_THROWS_WITH(kernel_count("op", {index_t(1) << 32, index_t(1) << 32}), Catch::Contains("32-bit"));
  CHECK_THROWS_WITH(kernel_count("dropout", {4, -1}), Catch::Contains("dropout: negative extent -1"));
}
