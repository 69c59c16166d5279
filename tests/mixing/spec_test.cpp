// The mix spec: the one weighted sum every backend forms, and the kernel-side spec.
#include <catch2/catch.hpp>

#include <vector>

#include "modelmix/mixing/spec.hpp"

using namespace modelmix;

TEST_CASE("weighted_sum forms sum_i c_i * theta_i in the accumulator type", "[mix]") {
  const std::vector<float> a{1, 2, 3}, b{10, 20, 30}, c{-1, 0, 4};
  mixing::spec<float> s;
  s.weight_numel = 3;
  s.terms = {{a.data(), nullptr, 0.5f}, {b.data(), nullptr, 0.25f}, {c.data(), nullptr, 2.0f}};
  std::vector<float> out(3, 123.0f);  // overwritten, not accumulated into
  mixing::weighted_sum(out.data(), 3, s, &mixing::term<float>::weight);
  CHECK(out == std::vector<float>{0.5f + 2.5f - 2.0f, 1.0f + 5.0f + 0.0f, 1.5f + 7.5f + 8.0f});
  std::vector<double> wide(3);
  mixing::weighted_sum(wide.data(), 3, s, &mixing::term<float>::weight);
  CHECK(wide[2] == Approx(17.0).epsilon(0));
}

TEST_CASE("a kernel spec carries at most its capacity of terms", "[mix]") {
  std::vector<float> w(4, 1.0f), g(4);
  mixing::spec<float> s;
  s.weight_numel = 4;
  for (int i = 0; i < 3; ++i) s.terms.push_back({w.data(), nullptr, 0.1f * float(i + 1), g.data(), nullptr, nullptr});
  const auto k = mixing::to_kernel_spec<8>(s);
  CHECK(k.count == 3);
  CHECK(k.weight_numel == 4);
  CHECK(k.bias_numel == 0);
  CHECK(k.coeff[2] == 0.3f);
  CHECK(k.grad_weight[1] == g.data());
  CHECK(k.grad_coeff[0] == nullptr);
  CHECK(k.weight[3] == nullptr);  // unused slots stay null
  s.terms.resize(9, s.terms[0]);
  CHECK_FALSE(mixing::fits_kernel_spec<8>(s));
  CHECK_THROWS_WITH(mixing::to_kernel_spec<8>(s), Catch::Contains("9 terms does not fit a kernel spec of 8"));
  CHECK_FALSE(mixing::fits_kernel_spec<8>(mixing::spec<float>{}));
}

TEST_CASE("a spec says which gradients it wants", "[mix]") {
  float w = 1, b = 1, gb = 0, gc = 0;
  mixing::spec<float> s{{{&w, &b, 1.0f}}, 1, 1};
  CHECK(s.is_plain());
  CHECK_FALSE(s.wants_weight_grad());
  CHECK_FALSE(s.wants_bias_grad());
  s.terms[0].grad_bias = &gb;
  CHECK(s.wants_bias_grad());
  CHECK_FALSE(s.wants_weight_grad());
  s.terms[0].grad_bias = nullptr;
  s.terms[0].grad_coeff = &gc;  // ∂c reads both ⟨dW, W⟩ and ⟨db, b⟩
  CHECK(s.wants_weight_grad());
  CHECK(s.wants_bias_grad());
  s.bias_numel = 0;
  CHECK_FALSE(s.wants_bias_grad());
}
