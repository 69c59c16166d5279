// The cuDNN baseline: descriptor set-up (no device needed) and the plain convolution roles
// against the CPU path ([gpu]).
#include <catch2/catch.hpp>

#include <vector>

#include "conv2d_cases.hpp"
#include "modelmix/cuda/runtime.hpp"
#include "modelmix/ops/cudnn/conv2d.hpp"
#include "support/skip.hpp"

using namespace modelmix;
using ops::conv2d_problem;
namespace tc = modelmix::test::cuda;

TEST_CASE("cuDNN output dims equal the problem's P and Q", "[cuda][cudnn]") {
  const std::vector<conv2d_problem> problems = {
      {8, 64, 256, 256, 64, 3, 3, 1, 1, 1, 1},    // U-Net level 1
      {16, 1024, 16, 16, 1024, 3, 3, 1, 1, 1, 1},  // bottleneck
      {8, 64, 256, 256, 4, 1, 1, 0, 0, 1, 1},     // 1×1 head
      {2, 8, 17, 19, 16, 3, 3, 1, 1, 2, 2},       // stride 2, ragged, padded
      {2, 8, 17, 19, 16, 3, 3, 0, 0, 2, 2},       // stride 2, unpadded
      {1, 3, 13, 11, 5, 3, 3, 0, 0, 1, 1},        // unpadded
      {1, 1, 5, 7, 1, 5, 3, 2, 1, 1, 1},          // non-square filter and padding
      {3, 4, 9, 6, 2, 2, 2, 0, 1, 3, 2},          // even filter, mixed strides
      {1, 2, 4, 4, 3, 1, 1, 1, 1, 2, 2},          // 1×1 with padding and stride
  };
  for (const conv2d_problem& pb : problems) {
    INFO(pb.str());
    const auto dims = ops::cudnn::output_dims(pb);
    CHECK(dims[0] == pb.N);
    CHECK(dims[1] == pb.K);
    CHECK(dims[2] == pb.P());
    CHECK(dims[3] == pb.Q());
  }
}

TEST_CASE("cuDNN descriptors refuse invalid problems", "[cuda][cudnn]") {
  CHECK_THROWS_AS(ops::cudnn::output_dims({1, 1, 2, 2, 1, 5, 5, 0, 0, 1, 1}), modelmix::error);
  CHECK_THROWS_WITH(ops::cudnn::output_dims({1, 1, 1ll << 32, 2, 1, 1, 1, 0, 0, 1, 1}), Catch::Contains("32-bit"));
}

TEST_CASE("cudnn::available says why not", "[cuda][cudnn]") {
  const auto a = ops::cudnn::available();
  if (!cuda::device_available().available) {
    CHECK_FALSE(a.available);
    CHECK(a.reason == cuda::device_available().reason);
  } else if (!a.available) {
    CHECK_THAT(a.reason, Catch::Contains("cudnn"));
  }
}

TEST_CASE("plain cuDNN convolution matches the CPU path", "[cuda][cudnn][gpu]") {
  const auto device = cuda::device_available();
  if (!device.available) MODELMIX_SKIP_TEST("no CUDA device: " + device.reason);
  const auto cudnn = ops::cudnn::available();
  if (!cudnn.available) MODELMIX_SKIP_TEST("cuDNN not usable: " + cudnn.reason);
  unsigned seed = 100;
  for (const conv2d_problem& pb : tc::unet_like_problems())
    for (bool bias : {true, false}) {
      const tc::host_case c(pb, 1, bias, seed++);
      const tc::result want = tc::run_cpu(c);
      // Through the plain entry points: fprop overwrites, the backward roles accumulate.
      const tc::result got = tc::run_device(
          c,
          [](const conv2d_problem& p, const float* x, float* y, const mixing::spec<float>& s) {
            ops::cudnn::conv2d_fprop(p, x, s.terms[0].weight, s.terms[0].bias, y);
          },
          [](const conv2d_problem& p, const float* dy, float* dx, const mixing::spec<float>& s) {
            ops::cudnn::conv2d_dgrad(p, dy, s.terms[0].weight, dx);
          },
          [](const conv2d_problem& p, const float* x, const float* dy, const mixing::spec<float>& s) {
            ops::cudnn::conv2d_wgrad(p, x, dy, s.terms[0].grad_weight);
            if (s.has_bias()) ops::cudnn::conv2d_bgrad(p, dy, s.terms[0].grad_bias);
          });
      // The plain entry points leave grad_coeff alone: compare everything else.
      tc::result expected = want;
      expected.grad_coeff = c.grad_coeff0;
      tc::check_results(c, got, expected, 1e-4, "cudnn plain");
    }
}
