#include "modelmix/ops/reshape.hpp"
#include "op_test_support.hpp"

using namespace modelmix;

TEST_CASE("reshape keeps the elements in order", "[ops][reshape]") {
  const Tensor<float> x = test::random_tensor<float>(Shape{2, 3, 5, 1}, 1);
  Tape<float> tape;
  const Tensor<float>& y = ops::reshape(tape.constant(x), Shape{6, 5}).value();
  CHECK(y.shape() == Shape{6, 5});
  CHECK(y.storage() == x.storage());
}

TEST_CASE("reshape gradient matches finite differences", "[ops][reshape][gradcheck]") {
  test::require_gradients_match(
      [](Tape<double>&, const std::vector<Var<double>>& in) { return ops::reshape(in[0], Shape{3, 10}); },
      {test::random_tensor(Shape{1, 2, 3, 5}, 2)});
}

TEST_CASE("reshape rejects a different element count", "[ops][reshape]") {
  Tape<float> tape;
  CHECK_THROWS_WITH(ops::reshape(tape.constant(Tensor<float>(Shape{2, 3})), Shape{4, 2}),
                    Catch::Contains("reshape: input [2, 3] has 6 elements, target shape [4, 2] needs 8"));
}
