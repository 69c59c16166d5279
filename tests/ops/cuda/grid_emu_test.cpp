// The CPU grid emulator itself (tests/support/grid_emu.hpp): it must run correct bodies and
// refuse broken ones loudly (divergent barriers, deadlocked shuffles) instead of hanging.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "modelmix/ops/cuda/block_reduce.cuh"
#include "support/grid_emu.hpp"

namespace emu = modelmix::test::emu;
using modelmix::ops::cuda::idx3;

namespace {
struct ints64 {
  int v[64];
};
}  // namespace

TEST_CASE("emu: the emulator runs every thread of every block with shared memory and barriers", "[emu]") {
  // Reverse each block's 64 values through shared memory: needs the barrier.
  std::vector<int> in(64 * 3), out(in.size(), -1);
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = int(i);
  emu::launch<ints64>({3, 1, 1}, {64, 1, 1}, [&](const emu::ctx& c, ints64& sm) {
    const int t = c.linear_thread(), base = c.block().x * 64;
    sm.v[t] = in[std::size_t(base + t)];
    c.sync();
    out[std::size_t(base + t)] = sm.v[63 - t];
  });
  for (int b = 0; b < 3; ++b)
    for (int t = 0; t < 64; ++t) REQUIRE(out[std::size_t(b * 64 + t)] == b * 64 + 63 - t);
}

TEST_CASE("emu: shared memory starts as NaN in every block", "[emu]") {
  struct floats32 {
    float v[32];
  };
  std::vector<int> nan_seen(2 * 32, 0);
  emu::launch<floats32>({2, 1, 1}, {32, 1, 1}, [&](const emu::ctx& c, floats32& sm) {
    const int t = c.linear_thread();
    nan_seen[std::size_t(c.block().x * 32 + t)] = std::isnan(sm.v[t]) ? 1 : 0;  // read before any write
    c.sync();
    sm.v[t] = 1.f;  // block 1 must not see block 0's writes
  });
  for (int s : nan_seen) REQUIRE(s == 1);
}

TEST_CASE("emu: full-warp xor shuffles and the fixed-order block sum", "[emu]") {
  std::vector<float> lane_sums(64, 0.f);
  emu::launch({1, 1, 1}, {64, 1, 1}, [&](const emu::ctx& c, emu::no_shared&) {
    float v = float(c.lane());
    for (int off = 16; off > 0; off /= 2) v += c.shfl_xor(v, off);
    lane_sums[std::size_t(c.linear_thread())] = v;
  });
  for (float v : lane_sums) REQUIRE(v == 496.f);  // 0 + 1 + … + 31, in every lane

  using smem = modelmix::ops::cuda::block_sum_smem<128, float, 2>;
  float total[2] = {-1.f, -1.f};
  emu::launch<smem>({1, 1, 1}, {128, 1, 1}, [&](const emu::ctx& c, smem& sm) {
    float v[2] = {float(c.linear_thread()), 1.f};
    modelmix::ops::cuda::block_sum(c, sm, v, 3u);
    if (c.linear_thread() == 0) total[0] = v[0], total[1] = v[1];
  });
  REQUIRE(total[0] == 8128.f);  // 0 + … + 127
  REQUIRE(total[1] == 128.f);
}

TEST_CASE("emu: atomics and multi-dimensional indices", "[emu]") {
  int count = 0;
  std::vector<int> seen(2 * 3 * 64, 0);
  emu::launch({2, 3, 1}, {16, 2, 2}, [&](const emu::ctx& c, emu::no_shared&) {
    c.atomic_add(&count, 1);
    const idx3 t = c.thread(), b = c.block();
    // No Catch macros inside bodies (Catch is not thread-safe): record, check afterwards.
    if (c.linear_thread() == t.x + 16 * (t.y + 2 * t.z)) seen[std::size_t((b.y * 2 + b.x) * 64 + c.linear_thread())] += 1;
  });
  REQUIRE(count == 2 * 3 * 64);
  for (int s : seen) REQUIRE(s == 1);
}

TEST_CASE("emu: a barrier skipped by some threads is reported, not a hang", "[emu]") {
  // The bug class of "return before __syncthreads()": thread 5 leaves while the rest wait.
  auto early_return = [](const emu::ctx& c, emu::no_shared&) {
    if (c.linear_thread() == 5) return;
    c.sync();
  };
  REQUIRE_THROWS_WITH(emu::launch({2, 1, 1}, {64, 1, 1}, early_return), Catch::Contains("divergent __syncthreads()"));

  // Two different sync() call sites in one generation.
  auto two_sites = [](const emu::ctx& c, emu::no_shared&) {
    if (c.linear_thread() < 16)
      c.sync();
    else
      c.sync();
  };
  REQUIRE_THROWS_WITH(emu::launch({1, 1, 1}, {32, 1, 1}, two_sites), Catch::Contains("divergent"));

  // Same call site, different trip counts.
  auto trips = [](const emu::ctx& c, emu::no_shared&) {
    for (int i = 0; i < (c.linear_thread() == 0 ? 3 : 2); ++i) c.sync();
  };
  REQUIRE_THROWS_WITH(emu::launch({1, 1, 1}, {64, 1, 1}, trips), Catch::Contains("divergent"));
}

TEST_CASE("emu: a shuffle reached by half a warp is reported as a deadlock", "[emu]") {
  auto half_warp = [](const emu::ctx& c, emu::no_shared&) {
    float v = 1.f;
    if (c.lane() < 16) v = c.shfl_xor(v, 1);
    c.sync();
  };
  REQUIRE_THROWS_WITH(emu::launch({1, 1, 1}, {64, 1, 1}, half_warp), Catch::Contains("deadlock"));
}

TEST_CASE("emu: bad launches and exceptions inside a body", "[emu]") {
  auto nothing = [](const emu::ctx&, emu::no_shared&) {};
  REQUIRE_THROWS_AS(emu::launch({1, 1, 1}, {48, 1, 1}, nothing), std::invalid_argument);
  auto throws = [](const emu::ctx& c, emu::no_shared&) {
    c.sync();
    if (c.linear_thread() == 7) throw std::runtime_error("boom");
    c.sync();
  };
  REQUIRE_THROWS_WITH(emu::launch({1, 1, 1}, {32, 1, 1}, throws), Catch::Contains("boom"));
}

TEST_CASE("emu: launch_sequential runs every thread of every block once, and refuses barriers", "[emu]") {
  // A 3D grid of 2D blocks: each thread writes its global index once.
  const idx3 grid{3, 2, 1}, block{32, 2, 1};
  std::vector<int> hits(3 * 2 * 64, 0);
  emu::launch_sequential(grid, block, [&](const emu::ctx& c, emu::no_shared&) {
    const int b = c.block().x + c.block().y * c.grid_dim().x;
    const int t = c.thread().x + c.thread().y * c.block_dim().x;
    REQUIRE(t == c.linear_thread());
    ++hits[std::size_t(b * 64 + t)];
  });
  for (const int h : hits) REQUIRE(h == 1);

  auto with_barrier = [](const emu::ctx& c, emu::no_shared&) { c.sync(); };
  REQUIRE_THROWS_WITH(emu::launch_sequential({1, 1, 1}, {32, 1, 1}, with_barrier),
                      Catch::Contains("sync()") && Catch::Contains("without shared memory"));
  auto with_shuffle = [](const emu::ctx& c, emu::no_shared&) { (void)c.shfl_xor(1, 1); };
  REQUIRE_THROWS_WITH(emu::launch_sequential({1, 1, 1}, {32, 1, 1}, with_shuffle), Catch::Contains("shfl_xor()"));
  auto throws = [](const emu::ctx& c, emu::no_shared&) {
    if (c.linear_thread() == 7) throw std::runtime_error("boom");
  };
  REQUIRE_THROWS_WITH(emu::launch_sequential({1, 1, 1}, {32, 1, 1}, throws), Catch::Contains("boom"));
  REQUIRE_THROWS_AS(emu::launch_sequential({1, 1, 1}, {48, 1, 1}, throws), std::invalid_argument);
}
