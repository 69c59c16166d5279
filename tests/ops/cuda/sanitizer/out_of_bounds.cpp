// A kernel body without its bounds guard, run on the grid emulator under AddressSanitizer:
// the grid has more threads than elements, and the threads past the end read beyond the
// buffer. The test passes when ASan reports it (ctest PASS_REGULAR_EXPRESSION
// "AddressSanitizer: heap-buffer-overflow"): ASan stands in for compute-sanitizer here.
#include <cstdio>
#include <vector>

#include "support/grid_emu.hpp"

namespace emu = modelmix::test::emu;

namespace {
template <class Ctx>
void scale_body(const Ctx& ctx, int n, const float* x, float* y) {
  const int i = ctx.block().x * ctx.block_dim().x + ctx.linear_thread();
  (void)n;  // the missing guard: if (i < n)
  y[i % n] = 2.f * x[i];
}
}  // namespace

int main() {
  const int n = 100;  // 4 blocks of 32 threads: threads 100…127 read past the end of x
  std::vector<float> x(std::size_t(n), 1.f), y(x.size());
  emu::launch({4, 1, 1}, {32, 1, 1}, [&](const emu::ctx& c, emu::no_shared&) { scale_body(c, n, x.data(), y.data()); });
  std::printf("out_of_bounds: finished without a report (ASan should have stopped it)\n");
  return 0;
}
