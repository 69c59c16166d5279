#include <catch2/catch.hpp>
#include <xtensor/xmath.hpp>

#include "modelmix/tensor/eigen_view.hpp"
#include "modelmix/tensor/tensor.hpp"
#include "modelmix/tensor/xtensor_view.hpp"

using namespace modelmix;

TEST_CASE("tensor stores row-major data with a shape", "[tensor]") {
  Tensor<float> t(Shape{2, 3, 4});
  CHECK(t.numel() == 24);
  CHECK(t.shape().stride(0) == 12);
  CHECK(t.shape().stride(2) == 1);
  t(1, 2, 3) = 5.0f;
  CHECK(t[23] == 5.0f);
  t(0, 1, 0) = 2.0f;
  CHECK(t[4] == 2.0f);
  Tensor<double> d(Shape{2}, 1.5);
  CHECK(d[1] == 1.5);
}

TEST_CASE("tensor rejects inconsistent shapes", "[tensor]") {
  CHECK_THROWS_WITH((Tensor<float>(Shape{2, 2}, std::vector<float>{1, 2, 3})), Catch::Contains("do not fill shape [2, 2]"));
  Tensor<float> t(Shape{2, 3});
  CHECK_THROWS_WITH(t.reshape(Shape{4, 2}), Catch::Contains("[2, 3] has 6 elements"));
  CHECK_THROWS_WITH(Shape({2, -1}), Catch::Contains("negative extent"));
  Tensor<float> a(Shape{2}), b(Shape{3});
  CHECK_THROWS_WITH(a += b, Catch::Contains("shape [3] into [2]"));
}

TEST_CASE("xtensor and Eigen views share the tensor's storage", "[tensor]") {
  Tensor<float> t(Shape{2, 3}, std::vector<float>{1, 2, 3, 4, 5, 6});
  auto x = as_xtensor(t);
  CHECK(x(1, 0) == 4.0f);
  x = x * 2.0f;  // writes through
  CHECK(t[5] == 12.0f);
  auto m = as_matrix(t, 2, 3);
  CHECK(m(0, 2) == 6.0f);
  m(1, 1) = -1.0f;
  CHECK(t(1, 1) == -1.0f);
  CHECK(m.data() == t.data());
  const Tensor<float>& ct = t;
  CHECK(as_matrix(ct, 3, 2)(2, 1) == 12.0f);
  CHECK_THROWS(as_matrix(t, 4, 2));
}

TEST_CASE("tensor storage knows its device", "[tensor][device]") {
  Tensor<float> t(Shape{2, 3}, 1.5f);
  CHECK(t.where() == device::cpu);
  CHECK_FALSE(t.on_device());
  // zeros() fills, empty() only allocates (its contents are whatever the allocator gave).
  Tensor<float> z = Tensor<float>::zeros(Shape{4, 5});
  CHECK(z.numel() == 20);
  for (float v : z.span()) CHECK(v == 0.0f);
  Tensor<float> e = Tensor<float>::empty(Shape{3, 7});
  CHECK(e.numel() == 21);
  CHECK(e.shape() == Shape{3, 7});
  // to(cpu) of a host tensor is a copy, not an alias.
  Tensor<float> c = t.to(device::cpu);
  c[0] = 9.0f;
  CHECK(t[0] == 1.5f);
  CHECK(c.to_host()[0] == 9.0f);
}

TEST_CASE("device storage without the CUDA backend is a clear error", "[tensor][device]") {
  if constexpr (cuda_built_in) {
    SUCCEED("built with CUDA: device storage is tested by the gpu tests");
  } else {
    CHECK_THROWS_WITH(Tensor<float>::empty(Shape{2}, device::cuda), Catch::Contains("built without CUDA"));
    CHECK_THROWS_WITH(Tensor<float>(Shape{2}).to_device(), Catch::Contains("built without CUDA"));
    // An empty device tensor needs no memory, so it exists even without CUDA.
    CHECK(Tensor<float>::empty(Shape{0}, device::cuda).numel() == 0);
  }
}

TEST_CASE("Tensor::zero and Tensor::zeros clear large tensors, in parallel chunks, up to the last element", "[tensor]") {
  // 1 000 003 floats: many parallel chunks (ops/cpu/parallel.hpp) and a ragged tail.
  const Shape shape{1000003};
  Tensor<float> t(shape, 3.0f);
  t.zero();
  index_t nonzero = 0;
  for (index_t i = 0; i < t.numel(); ++i) nonzero += t[i] != 0.0f;
  CHECK(nonzero == 0);
  const Tensor<float> z = Tensor<float>::zeros(shape);
  nonzero = 0;
  for (index_t i = 0; i < z.numel(); ++i) nonzero += z[i] != 0.0f;
  CHECK(nonzero == 0);
  Tensor<double> small(Shape{5}, 2.0);  // below the parallel threshold: one plain fill
  small.zero();
  for (index_t i = 0; i < 5; ++i) CHECK(small[i] == 0.0);
}
