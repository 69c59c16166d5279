// The CUDA conv2d chain's grouping of a large model soup (host logic; the launches it feeds
// are tested on a device by tests/cuda).
#include <catch2/catch.hpp>

#include <vector>

#include "modelmix/ops/cuda/conv2d_chain.hpp"

using namespace modelmix;

TEST_CASE("a soup larger than the fused kernels take is split into groups, in order", "[ops][conv2d]") {
  std::vector<float> w(17);
  mixing::spec<float> s{{}, 6, 2};
  for (int i = 0; i < 17; ++i) s.terms.push_back({&w[std::size_t(i)], nullptr, float(i)});
  const auto g = ops::cuda::chain::groups(s, 8);
  REQUIRE(g.size() == 3);
  CHECK(g[0].terms.size() == 8);
  CHECK(g[1].terms.size() == 8);
  CHECK(g[2].terms.size() == 1);
  int next = 0;
  for (const auto& group : g) {
    CHECK(group.weight_numel == 6);
    CHECK(group.bias_numel == 2);
    for (const auto& t : group.terms) CHECK(t.coeff == float(next++));
  }
  CHECK(next == 17);
  CHECK(ops::cuda::chain::groups(mixing::spec<float>{{{&w[0], nullptr, 1.0f}}, 6, 0}, 7).size() == 1);
}
