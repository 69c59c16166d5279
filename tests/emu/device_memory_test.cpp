// cuda::device_memory(): the device counterpart of memory::peak_bytes() that the step
// benchmarks compare. Live bytes follow every device tensor and the context's workspace, and
// the high-water mark holds the most that was live since reset_device_peak().
#include <catch2/catch.hpp>

#include <optional>

#include "modelmix/cuda/runtime.hpp"
#include "modelmix/tensor/tensor.hpp"

using namespace modelmix;

TEST_CASE("device_memory counts device tensors, live and at the high-water mark", "[emu][device_memory]") {
  const std::size_t before = cuda::device_memory().live_bytes;
  cuda::reset_device_peak();
  CHECK(cuda::device_memory().peak_bytes == before);
  {
    const Tensor<float> a = Tensor<float>(Shape{1000}).to(device::cuda);
    CHECK(cuda::device_memory().live_bytes == before + 4000);
    {
      const Tensor<double> b = Tensor<double>(Shape{3, 7}).to(device::cuda);
      CHECK(cuda::device_memory().live_bytes == before + 4000 + 168);
    }
    CHECK(cuda::device_memory().live_bytes == before + 4000);
    CHECK(cuda::device_memory().peak_bytes == before + 4168);
    // A host tensor is not device memory.
    const Tensor<float> host(Shape{500});
    CHECK(cuda::device_memory().live_bytes == before + 4000);
  }
  CHECK(cuda::device_memory().live_bytes == before);
  CHECK(cuda::device_memory().peak_bytes == before + 4168);
  cuda::reset_device_peak();
  CHECK(cuda::device_memory().peak_bytes == before);
}

TEST_CASE("device_memory counts the workspace, and its growth frees the old one", "[emu][device_memory]") {
  cuda::context& ctx = cuda::context::current();
  const std::size_t held = ctx.workspace_size();
  const std::size_t before = cuda::device_memory().live_bytes;
  const std::size_t want = held + (std::size_t(3) << 20);
  (void)ctx.workspace(want);
  const std::size_t grown = ctx.workspace_size();
  REQUIRE(grown >= want);
  CHECK(cuda::device_memory().live_bytes == before - held + grown);
  (void)ctx.workspace(want / 2);  // a smaller request reuses it
  CHECK(cuda::device_memory().live_bytes == before - held + grown);
}
