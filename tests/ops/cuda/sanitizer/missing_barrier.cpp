// A kernel body with its barrier deliberately removed, run on the grid emulator under
// ThreadSanitizer: the test passes when TSan reports the data race (ctest
// PASS_REGULAR_EXPRESSION "ThreadSanitizer: data race"). With the barrier it is race-free.
#include <cstdio>
#include <vector>

#include "support/grid_emu.hpp"

namespace emu = modelmix::test::emu;

namespace {
struct tile {
  float v[64];
};

// out[t] = in[63 − t] through shared memory. The correct body has ctx.sync() between the
// shared-memory store and the load of another thread's slot.
template <class Ctx>
void reverse_body(const Ctx& ctx, tile& sm, const float* in, float* out) {
  const int t = ctx.linear_thread();
  sm.v[t] = in[t];
  // ctx.sync();   ← the missing barrier
  out[t] = sm.v[63 - t];
}
}  // namespace

int main() {
  std::vector<float> in(64), out(64);
  for (int i = 0; i < 64; ++i) in[std::size_t(i)] = float(i);
  // TSan sees the race only when the two threads' accesses are not ordered by the emulator's
  // own synchronisation (a mutex that a thread finishing early releases before a late thread
  // acquires it): on a loaded machine one launch hides it now and then. Twenty launches make
  // missing it practically impossible; TSan reports the race once.
  for (int launch = 0; launch < 20; ++launch)
    emu::launch<tile>({1, 1, 1}, {64, 1, 1},
                      [&](const emu::ctx& c, tile& sm) { reverse_body(c, sm, in.data(), out.data()); });
  std::printf("missing_barrier: finished (a race must have been reported above)\n");
  return 0;
}
