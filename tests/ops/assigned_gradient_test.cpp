// Ops whose backward writes a fresh gradient slot (=) instead of adding to it (Tape::grad_target).
//
// The op gradient checks elsewhere bind their inputs as parameters, whose gradients always
// accumulate, so they only cover the += branch. Here each op reads an intermediate value
// (u = 1·x), whose slot is fresh: its first consumer assigns into it. The test binaries fill
// such slots with NaN first (tests/support/catch_main.cpp), so an element left unwritten, or
// added to, fails the check. A second consumer of the same u must then add.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "modelmix/ops/ops.hpp"
#include "ops/op_test_support.hpp"

using namespace modelmix;

namespace {

using unary_op = std::function<Var<double>(const Var<double>&)>;

// Gradients of op(1·x) and of op(u) + op(u), u = 1·x, against finite differences.
void require_assigned_gradients(const unary_op& op, const Tensor<double>& x) {
  SECTION("one consumer: the op assigns") {
    test::require_gradients_match(
        [&](Tape<double>&, const std::vector<Var<double>>& in) { return op(ops::scale(in[0], 1.0)); }, {x});
  }
  SECTION("two consumers: the first assigns, the second adds") {
    test::require_gradients_match(
        [&](Tape<double>&, const std::vector<Var<double>>& in) {
          const Var<double> u = ops::scale(in[0], 1.0);
          return ops::add(op(u), ops::scale(op(u), -0.5));
        },
        {x});
  }
}

}  // namespace

TEST_CASE("grad_target hands out a fresh slot to write once, then slots to add into", "[autograd][ops]") {
  Tape<double> tape;
  Parameter<double> w(Tensor<double>(Shape{2}, std::vector<double>{1, 2}));
  const Var<double> c = tape.constant(Tensor<double>(Shape{2}, 1.0));
  const Var<double> p = tape.parameter(w);
  const Var<double> u = ops::scale(p, 2.0);

  CHECK_FALSE(tape.grad_target(c));
  const gradient_sink<double> first = tape.grad_target(u);
  REQUIRE(first);
  CHECK(first.assign);
  CHECK(std::isnan((*first.slot)[0]));  // poisoned in the test binaries
  const gradient_sink<double> second = tape.grad_target(u);
  CHECK(second.slot == first.slot);
  CHECK_FALSE(second.assign);
  CHECK(tape.grad_slot(u) == first.slot);
  // A parameter's gradient accumulates across passes and steps: never assigned.
  const gradient_sink<double> param = tape.grad_target(p);
  CHECK(param.slot == &w.grad);
  CHECK_FALSE(param.assign);
  // A slot zero-filled by grad_slot first is added into.
  const Var<double> v = ops::scale(p, 3.0);
  REQUIRE(tape.grad_slot(v) != nullptr);
  CHECK_FALSE(tape.grad_target(v).assign);
}

TEST_CASE("relu assigns a fresh gradient", "[ops][gradcheck]") {
  require_assigned_gradients([](const Var<double>& u) { return ops::relu(u); },
                             test::distinct_tensor(Shape{2, 3, 4, 5}, 1));
}

TEST_CASE("dropout assigns a fresh gradient", "[ops][gradcheck]") {
  require_assigned_gradients([](const Var<double>& u) { return ops::dropout(u, 0.4, 11, true); },
                             test::distinct_tensor(Shape{2, 3, 4, 5}, 2));
}

TEST_CASE("max_pool2d assigns a fresh gradient, odd rows and columns included", "[ops][pooling][gradcheck]") {
  require_assigned_gradients([](const Var<double>& u) { return ops::max_pool2d(u); },
                             test::distinct_tensor(Shape{2, 2, 5, 7}, 3));
}

TEST_CASE("upsample_nearest2x assigns a fresh gradient", "[ops][gradcheck]") {
  require_assigned_gradients([](const Var<double>& u) { return ops::upsample_nearest2x(u); },
                             test::distinct_tensor(Shape{2, 2, 3, 4}, 4));
}

TEST_CASE("upsample_bilinear2x assigns a fresh gradient", "[ops][upsample][gradcheck]") {
  // A scatter: every input element gathers from up to 4 output rows and columns, the border
  // ones (clamped taps) twice from the same output.
  require_assigned_gradients([](const Var<double>& u) { return ops::upsample_bilinear2x(u); },
                             test::distinct_tensor(Shape{2, 2, 3, 4}, 10));
}

TEST_CASE("softmax_channels assigns a fresh gradient", "[ops][gradcheck]") {
  require_assigned_gradients([](const Var<double>& u) { return ops::softmax_channels(u); },
                             test::distinct_tensor(Shape{2, 4, 3, 5}, 5, 0.1));
}

TEST_CASE("concat_channels assigns a fresh gradient to each input", "[ops][gradcheck]") {
  // concat(u, 2u): u's slot is written by the concat's first block and added to through 2u.
  require_assigned_gradients(
      [](const Var<double>& u) {
        return ops::concat_channels({u, ops::scale(u, 2.0), ops::relu(u)});
      },
      test::distinct_tensor(Shape{2, 2, 3, 4}, 6));
}

TEST_CASE("batch_norm2d assigns a fresh input gradient, training and evaluation", "[ops][gradcheck]") {
  for (const bool training : {true, false}) {
    DYNAMIC_SECTION((training ? "training" : "evaluation")) {
      Tensor<double> mean(Shape{3}, 0.1), var(Shape{3}, 1.5);
      const ops::batch_norm_state<double> state{mean, var, 0.1, 1e-5, false};
      require_assigned_gradients(
          [&](const Var<double>& u) {
            Tape<double>& tape = u.tape();
            const Var<double> gamma = tape.constant(Tensor<double>(Shape{3}, std::vector<double>{0.5, -1.2, 2}));
            const Var<double> beta = tape.constant(Tensor<double>(Shape{3}, std::vector<double>{0.1, 0, -0.3}));
            return ops::batch_norm2d(u, gamma, beta, state, training);
          },
          test::distinct_tensor(Shape{2, 3, 4, 5}, 7, 0.1));
    }
  }
}

TEST_CASE("conv2d assigns a fresh input gradient on the direct and the GEMM path", "[ops][conv][gradcheck]") {
  // 3×3 stride 1 on rows of 17 takes the direct kernel (rows at least one vector of doubles
  // wide); stride 2 and 1×1 take the GEMM path, which zeroes the slot and scatters into it.
  struct conv_case {
    const char* name;
    index_t R, stride, padding, W;
  };
  for (const conv_case cc : {conv_case{"direct 3x3", 3, 1, 1, 17}, conv_case{"GEMM 3x3 stride 2", 3, 2, 1, 7},
                             conv_case{"GEMM 1x1", 1, 1, 0, 5}}) {
    DYNAMIC_SECTION(cc.name) {
      const Tensor<double> weight = test::distinct_tensor(Shape{3, 2, cc.R, cc.R}, 8, 0.05);
      require_assigned_gradients(
          [&](const Var<double>& u) {
            Tape<double>& tape = u.tape();
            return ops::conv2d(u, tape.constant(weight), Var<double>{}, {cc.stride, cc.padding});
          },
          test::distinct_tensor(Shape{1, 2, 3, cc.W}, 9, 0.1));
    }
  }
}
