#include "modelmix/ops/dropout.hpp"
#include "op_test_support.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace modelmix;

TEMPLATE_TEST_CASE("dropout zeroes a fraction p and scales survivors by 1/(1-p)", "[ops][dropout]", float, double) {
  using T = TestType;
  const T p = T(0.3);
  const Tensor<T> x = test::random_tensor<T>(Shape{2, 4, 101, 123}, 3, T(0.5), T(1.5));  // no zeros in x
  Tape<T> tape;
  const Tensor<T>& y = ops::dropout(tape.constant(x), p, 1234, true).value();
  index_t dropped = 0;
  for (index_t i = 0; i < x.numel(); ++i) {
    const bool keep = ops::dropout_keep(1234, std::uint64_t(i), double(p));
    if (!keep) ++dropped;
    // The mask is the hash of (seed, flat index): the same whichever thread computed it.
    REQUIRE(y[i] == (keep ? x[i] * (T(1) / (T(1) - p)) : T(0)));
  }
  const double fraction = double(dropped) / double(x.numel());
  CHECK(fraction == Approx(0.3).margin(0.005));  // ~99k draws: σ ≈ 0.0015
}

TEST_CASE("dropout masks are reproducible from the seed", "[ops][dropout]") {
  const Tensor<float> x(Shape{1, 3, 17, 19}, 1.0f);
  Tape<float> tape;
  Var<float> v = tape.constant(x);
  const Tensor<float>& a = ops::dropout(v, 0.5f, 42, true).value();
  const Tensor<float>& b = ops::dropout(v, 0.5f, 42, true).value();
  const Tensor<float>& c = ops::dropout(v, 0.5f, 43, true).value();
  CHECK(a.storage() == b.storage());
  CHECK(a.storage() != c.storage());
  for (float value : a.span()) CHECK((value == 0.0f || value == 2.0f));
#ifdef _OPENMP
  // Thread count does not change the mask (large enough to take the parallel path).
  const Tensor<float> big(Shape{4, 8, 64, 64}, 1.0f);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const Tensor<float> one = ops::dropout(tape.constant(big), 0.2f, 7, true).value();
  omp_set_num_threads(std::max(2, threads));
  const Tensor<float> many = ops::dropout(tape.constant(big), 0.2f, 7, true).value();
  omp_set_num_threads(threads);
  CHECK(one.storage() == many.storage());
#endif
}

TEST_CASE("dropout is the identity in eval mode and for p = 0", "[ops][dropout]") {
  Tape<double> tape;
  Var<double> x = tape.variable(test::random_tensor(Shape{1, 2, 3, 3}, 1));
  CHECK(ops::dropout(x, 0.5, 1, false).id() == x.id());
  CHECK(ops::dropout(x, 0.0, 1, true).id() == x.id());
  CHECK_THROWS_WITH(ops::dropout(x, 1.0, 1, true), Catch::Contains("dropout: drop probability p must be in [0, 1), got 1"));
  CHECK_THROWS_WITH(ops::dropout(x, -0.1, 1, true), Catch::Contains("must be in [0, 1)"));
}

TEST_CASE("dropout gradient matches finite differences for a fixed seed", "[ops][dropout][gradcheck]") {
  test::require_gradients_match(
      [](Tape<double>&, const std::vector<Var<double>>& in) { return ops::dropout(in[0], 0.4, 99, true); },
      {test::random_tensor(Shape{1, 3, 5, 7}, 2)});
}
