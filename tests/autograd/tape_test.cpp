#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "modelmix/autograd/gradcheck.hpp"
#include "modelmix/autograd/tape.hpp"

using namespace modelmix;

namespace {
// y = a ⊙ b, written directly against the tape API to test the engine in isolation.
template <class T>
Var<T> multiply(const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = autograd::common_tape("multiply", {a, b});
  Tensor<T> y = a.value();
  for (index_t i = 0; i < y.numel(); ++i) y[i] *= b.value()[i];
  return tape.record("multiply", std::move(y), {a, b}, [&tape, a, b](const Tensor<T>& g) {
    if (Tensor<T>* ga = tape.grad_slot(a))
      for (index_t i = 0; i < g.numel(); ++i) (*ga)[i] += g[i] * b.value()[i];
    if (Tensor<T>* gb = tape.grad_slot(b))
      for (index_t i = 0; i < g.numel(); ++i) (*gb)[i] += g[i] * a.value()[i];
  });
}
template <class T>
Var<T> total(const Var<T>& a) {
  Tape<T>& tape = a.tape();
  T s = 0;
  for (T v : a.value().span()) s += v;
  return tape.record("total", Tensor<T>(Shape{1}, s), {a}, [&tape, a](const Tensor<T>& g) {
    if (Tensor<T>* ga = tape.grad_slot(a))
      for (T& v : ga->span()) v += g[0];
  });
}
}  // namespace

TEST_CASE("backward walks the tape in reverse and accumulates with +=", "[autograd]") {
  Tape<double> tape;
  Var<double> x = tape.variable(Tensor<double>(Shape{3}, std::vector<double>{1, 2, 3}));
  // x used twice: L = Σ x⊙x + Σ x  →  dL/dx = 2x + 1
  Var<double> loss = total(multiply(x, x));
  Var<double> loss2 = total(x);
  Var<double> sum = tape.record("add", Tensor<double>(Shape{1}, loss.value()[0] + loss2.value()[0]), {loss, loss2},
                                [&](const Tensor<double>& g) {
                                  (*tape.grad_slot(loss))[0] += g[0];
                                  (*tape.grad_slot(loss2))[0] += g[0];
                                });
  tape.backward(sum);
  CHECK(x.grad()[0] == 3.0);
  CHECK(x.grad()[1] == 5.0);
  CHECK(x.grad()[2] == 7.0);
}

TEST_CASE("parameters receive gradients in place, constants none", "[autograd]") {
  Parameter<double> w(Tensor<double>(Shape{2}, std::vector<double>{2, -1}));
  w.grad.fill(10.0);  // accumulation adds to what is there
  Tape<double> tape;
  Var<double> x = tape.constant(Tensor<double>(Shape{2}, std::vector<double>{3, 4}));
  Var<double> loss = total(multiply(tape.parameter(w), x));
  tape.backward(loss);
  CHECK(w.grad[0] == 13.0);
  CHECK(w.grad[1] == 14.0);
  CHECK_FALSE(x.requires_grad());
  CHECK_THROWS_WITH(x.grad(), Catch::Contains("does not require a gradient"));
}

TEST_CASE("trainable_only_guard records rejected parameters as constants, for its lifetime", "[autograd]") {
  Parameter<double> kept(Tensor<double>(Shape{2}, std::vector<double>{2, -1}));
  Parameter<double> frozen(Tensor<double>(Shape{2}, std::vector<double>{5, 7}));
  Tape<double> tape;
  Var<double> k, f;
  {
    const trainable_only_guard<double> guard(tape, [&](const Parameter<double>& p) { return &p == &kept; });
    k = tape.parameter(kept);
    f = tape.parameter(frozen);
  }
  const Var<double> after = tape.parameter(frozen);  // the guard is gone: trainable again
  CHECK(k.requires_grad());
  CHECK_FALSE(f.requires_grad());
  CHECK(after.requires_grad());
  CHECK(tape.trainable_filter() == nullptr);
  tape.backward(total(multiply(multiply(k, f), after)));
  CHECK(kept.grad[0] == 25.0);  // ∂(k·f·f')/∂k = f·f'
  CHECK(kept.grad[1] == 49.0);
  CHECK(frozen.grad[0] == 10.0);  // only through `after`: k·f
  CHECK(frozen.grad[1] == -7.0);
}

TEST_CASE("no_grad records no closures and restores the mode", "[autograd]") {
  Parameter<float> w(Tensor<float>(Shape{1}, 2.0f));
  Tape<float> tape;
  {
    no_grad_guard guard;
    Var<float> y = multiply(tape.parameter(w), tape.parameter(w));
    CHECK_FALSE(y.requires_grad());
    CHECK_THROWS_WITH(tape.backward(y), Catch::Contains("does not depend on any parameter"));
  }
  CHECK(autograd::grad_mode_enabled());
  Var<float> y = multiply(tape.parameter(w), tape.parameter(w));
  CHECK(y.requires_grad());
}

TEST_CASE("ops with a run-time number of inputs record them all", "[autograd]") {
  // y = Σ_k x_k, recorded with the span overload; only the last input needs a gradient.
  Tape<double> tape;
  std::vector<Var<double>> xs{tape.constant(Tensor<double>(Shape{2}, 1.0)),
                              tape.constant(Tensor<double>(Shape{2}, 2.0))};
  const auto sum_all = [&tape](const std::vector<Var<double>>& inputs) {
    Tensor<double> y(Shape{2});
    for (const Var<double>& x : inputs)
      for (index_t i = 0; i < 2; ++i) y[i] += x.value()[i];
    return tape.record("sum_all", std::move(y), inputs, [&tape, inputs](const Tensor<double>& g) {
      for (const Var<double>& x : inputs)
        if (Tensor<double>* gx = tape.grad_slot(x))
          for (index_t i = 0; i < 2; ++i) (*gx)[i] += g[i];
    });
  };
  CHECK_FALSE(sum_all(xs).requires_grad());  // no input needs a gradient: a constant
  xs.push_back(tape.variable(Tensor<double>(Shape{2}, 3.0)));
  Var<double> y = sum_all(xs);
  REQUIRE(y.requires_grad());
  tape.backward(total(multiply(y, y)));  // d/dx Σ y² = 2y = 12
  CHECK(xs[2].grad()[0] == 12.0);
  CHECK(xs[2].grad()[1] == 12.0);

  Tape<double> other;
  xs.push_back(other.constant(Tensor<double>(Shape{2}, 0.0)));
  CHECK_THROWS_WITH(sum_all(xs), Catch::Contains("another tape"));
}

TEST_CASE("misuse of the tape gives clear errors", "[autograd]") {
  Tape<double> tape, other;
  Var<double> a = tape.variable(Tensor<double>(Shape{2}, 1.0));
  Var<double> b = other.variable(Tensor<double>(Shape{2}, 1.0));
  CHECK_THROWS_WITH(multiply(a, b), Catch::Contains("different tapes"));
  CHECK_THROWS_WITH(tape.record("op", Tensor<double>(Shape{1}), {b}, nullptr), Catch::Contains("another tape"));
  Var<double> y = multiply(a, a);
  CHECK_THROWS_WITH(tape.backward(y), Catch::Contains("needs a scalar loss; got a tensor of shape [2]"));
  Var<double> loss = total(y);
  tape.backward(loss);
  CHECK_THROWS_WITH(tape.backward(loss), Catch::Contains("already called"));
  tape.clear();
  CHECK_THROWS_WITH(tape.grad_slot(loss), Catch::Contains("before the tape was cleared"));
  Var<double> empty;
  CHECK_THROWS_WITH(empty.value(), Catch::Contains("empty"));
}

TEST_CASE("gradcheck accepts a correct gradient and rejects a wrong or missing one", "[autograd][gradcheck]") {
  auto good = [](Tape<double>&, const std::vector<Var<double>>& in) { return multiply(in[0], in[1]); };
  Tensor<double> a(Shape{3}, std::vector<double>{0.5, -1, 2}), b(Shape{3}, std::vector<double>{1, 3, -2});
  auto ok = autograd::gradcheck(good, {a, b});
  INFO(ok.report);
  CHECK(ok.ok);
  CHECK(ok.checked == 6);

  // Backward that forgets the second input: the checker must notice.
  auto forgetful = [](Tape<double>& tape, const std::vector<Var<double>>& in) {
    Var<double> x = in[0], y = in[1];
    Tensor<double> v = x.value();
    for (index_t i = 0; i < v.numel(); ++i) v[i] *= y.value()[i];
    return tape.record("bad", std::move(v), {x, y}, [&tape, x, y](const Tensor<double>& g) {
      Tensor<double>* gx = tape.grad_slot(x);
      for (index_t i = 0; i < g.numel(); ++i) (*gx)[i] += g[i] * y.value()[i];
    });
  };
  auto bad = autograd::gradcheck(forgetful, {a, b});
  CHECK_FALSE(bad.ok);
  CHECK_THAT(bad.report, Catch::Contains("input1"));

  // Parameters are perturbed in place and compared with their accumulated grad.
  Parameter<double> w(Tensor<double>(Shape{3}, std::vector<double>{1, 2, 3}));
  auto with_param = [&w](Tape<double>& tape, const std::vector<Var<double>>& in) {
    return multiply(in[0], tape.parameter(w));
  };
  auto p = autograd::gradcheck(with_param, {a}, {{"w", &w}});
  INFO(p.report);
  CHECK(p.ok);
  CHECK(p.checked == 6);
}

TEST_CASE("gradcheck rejects a NaN gradient", "[autograd][gradcheck]") {
  // Every comparison with NaN is false: an "error > tolerance" test would let it pass.
  auto nan_backward = [](Tape<double>& tape, const std::vector<Var<double>>& in) {
    Var<double> x = in[0];
    return tape.record("nan", x.value(), {x}, [&tape, x](const Tensor<double>&) {
      if (Tensor<double>* gx = tape.grad_slot(x)) (*gx)[1] += std::nan("");
    });
  };
  const auto result = autograd::gradcheck(nan_backward, {Tensor<double>(Shape{3}, std::vector<double>{1, 2, 3})});
  CHECK_FALSE(result.ok);
  CHECK_THAT(result.report, Catch::Contains("input0[1]"));
  CHECK(std::isnan(result.max_abs_error));
}

TEST_CASE("gradcheck rejects a backward that overwrites (=) instead of accumulating (+=)", "[autograd][gradcheck]") {
  // y = a ⊙ b with the right values but `=` into the input gradients: on a fresh zero slot
  // that looks correct, so only the checker's pre-filled sentinel can expose it.
  auto overwriting = [](Tape<double>& tape, const std::vector<Var<double>>& in) {
    Var<double> x = in[0], y = in[1];
    Tensor<double> v = x.value();
    for (index_t i = 0; i < v.numel(); ++i) v[i] *= y.value()[i];
    return tape.record("overwrite", std::move(v), {x, y}, [&tape, x, y](const Tensor<double>& g) {
      if (Tensor<double>* gx = tape.grad_slot(x))
        for (index_t i = 0; i < g.numel(); ++i) (*gx)[i] += g[i] * y.value()[i];
      if (Tensor<double>* gy = tape.grad_slot(y))
        for (index_t i = 0; i < g.numel(); ++i) (*gy)[i] = g[i] * x.value()[i];  // the bug
    });
  };
  Tensor<double> a(Shape{3}, std::vector<double>{0.5, -1, 2}), b(Shape{3}, std::vector<double>{1, 3, -2});
  const auto bad = autograd::gradcheck(overwriting, {a, b});
  CHECK_FALSE(bad.ok);
  CHECK_THAT(bad.report, Catch::Contains("input1"));
  CHECK_THAT(bad.report, !Catch::Contains("input0"));

  // The same bug writing into a parameter is caught too, and a correct op leaves the parameter
  // holding its analytic gradient alone (the sentinel is taken back out).
  Parameter<double> w(Tensor<double>(Shape{3}, std::vector<double>{1, 2, 3}));
  auto overwriting_param = [&](Tape<double>& tape, const std::vector<Var<double>>& in) {
    return overwriting(tape, {in[0], tape.parameter(w)});
  };
  const auto bad_param = autograd::gradcheck(overwriting_param, {a}, {{"w", &w}});
  CHECK_FALSE(bad_param.ok);
  CHECK_THAT(bad_param.report, Catch::Contains("w["));

  // L = <r, a ⊙ w> with |r| < 1, so dL/dw = r ⊙ a: whatever stale gradient w held before
  // the check, it returns that gradient alone.
  auto good = [&](Tape<double>& tape, const std::vector<Var<double>>& in) { return multiply(in[0], tape.parameter(w)); };
  std::vector<Tensor<double>> returned;
  for (double stale : {100.0, -7.0}) {
    w.grad.fill(stale);
    const auto ok = autograd::gradcheck(good, {a}, {{"w", &w}});
    INFO(ok.report);
    CHECK(ok.ok);
    for (index_t i = 0; i < 3; ++i) CHECK(std::abs(w.grad[i]) <= std::abs(a[i]));
    returned.push_back(w.grad);
  }
  CHECK(returned[0].storage() == returned[1].storage());
}
