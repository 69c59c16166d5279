// cuda::device_available, device memory, the per-thread context and device_buffer.
// Untagged cases run anywhere the toolkit is (no device needed); [gpu] cases skip visibly.
#include <catch2/catch.hpp>

#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "modelmix/core/error.hpp"
#include "modelmix/cuda/device_buffer.hpp"
#include "modelmix/cuda/runtime.hpp"
#include "support/skip.hpp"

using namespace modelmix;

TEST_CASE("device_available names a device or says why there is none", "[cuda][runtime]") {
  const cuda::availability a = cuda::device_available();
  INFO("available=" << a.available << " reason='" << a.reason << "' device='" << a.device_name << "'");
  if (a.available) {
    CHECK(a.device_count > 0);
    CHECK_FALSE(a.device_name.empty());
    CHECK(a.reason.empty());
  } else {
    // e.g. "cudaGetDeviceCount: CUDA driver version is insufficient for CUDA runtime version (35)"
    CHECK(a.device_count == 0);
    REQUIRE_FALSE(a.reason.empty());
    CHECK_THAT(a.reason, Catch::Contains("cudaGetDeviceCount") || Catch::Contains("CUDA device"));
    CHECK_THAT(a.reason, Catch::Matches(".*\\([0-9]+\\)$"));  // the CUDA error code
  }
  // Asked again, the same answer (probed once per process).
  CHECK(cuda::device_available().reason == a.reason);
}

TEST_CASE("without a device, CUDA and cuDNN calls throw modelmix::error naming the call", "[cuda][runtime]") {
  if (cuda::device_available().available) {
    SUCCEED("a device is present; the failure paths are not reachable here");
    return;
  }
  CHECK_THROWS_AS(cuda::allocate(256), modelmix::error);
  // Memory is ordered on the thread's stream, so creating that stream is the first call to fail.
  CHECK_THROWS_WITH(cuda::allocate(256), Catch::Contains("cudaStreamCreateWithFlags") &&
                                             Catch::Contains(" failed: ") && Catch::Contains("("));
  // The context is created without touching the device; its stream and cuDNN handle are not.
  cuda::context& ctx = cuda::context::current();
  CHECK_THROWS_WITH(ctx.stream(), Catch::Contains("cudaStreamCreateWithFlags"));
  CHECK_THROWS_WITH(ctx.cudnn_handle(), Catch::Contains("cudnnCreate"));
  CHECK_THROWS_AS(cuda::device_buffer<float>(16), modelmix::error);
}

TEST_CASE("empty allocations and buffers need no device", "[cuda][runtime]") {
  CHECK(cuda::allocate(0) == nullptr);
  cuda::deallocate(nullptr);
  cuda::device_buffer<float> a;
  CHECK(a.empty());
  CHECK(a.data() == nullptr);
  cuda::device_buffer<float> b(0);
  cuda::device_buffer<float> c(std::move(b));
  CHECK(c.size() == 0);
  CHECK(c.to_host().empty());
  CHECK_THROWS_WITH(c.copy_from_host(nullptr, 3), Catch::Contains("copying 3 elements into a buffer of 0"));
}

TEST_CASE("each thread has its own context", "[cuda][runtime]") {
  cuda::context* main_ctx = &cuda::context::current();
  CHECK(&cuda::context::current() == main_ctx);
  cuda::context* other = nullptr;
  std::thread([&] { other = &cuda::context::current(); }).join();
  CHECK(other != main_ctx);
}

TEST_CASE("device buffers round-trip through the device", "[cuda][runtime][gpu]") {
  const cuda::availability a = cuda::device_available();
  if (!a.available) MODELMIX_SKIP_TEST("no CUDA device: " + a.reason);
  INFO(a.device_name);
  std::vector<float> host(1000);
  std::iota(host.begin(), host.end(), -3.5f);
  auto d = cuda::device_buffer<float>::from_host(host);
  CHECK(d.size() == host.size());
  CHECK(d.to_host() == host);

  cuda::device_buffer<float> e(host.size());
  cuda::copy_on_device(e.data(), d.data(), d.bytes());
  CHECK(e.to_host() == host);

  cuda::device_buffer<float> moved(std::move(e));
  CHECK(e.data() == nullptr);
  CHECK(moved.to_host() == host);

  d.zero();
  CHECK(d.to_host() == std::vector<float>(host.size(), 0.f));

  // The workspace grows (never shrinks) and stays usable.
  cuda::context& ctx = cuda::context::current();
  void* w1 = ctx.workspace(1000);
  CHECK(w1 != nullptr);
  CHECK(ctx.workspace_size() >= 1000);
  CHECK(ctx.workspace(10) == w1);
  (void)ctx.workspace(ctx.workspace_size() + 1);
  CHECK(ctx.workspace_size() > 1000);
  ctx.synchronize();
  CHECK(ctx.stream() != nullptr);
}

TEST_CASE("device buffers work from several threads", "[cuda][runtime][gpu]") {
  const cuda::availability a = cuda::device_available();
  if (!a.available) MODELMIX_SKIP_TEST("no CUDA device: " + a.reason);
  std::vector<std::vector<float>> back(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &back] {
      std::vector<float> h(4096, float(t));
      back[std::size_t(t)] = cuda::device_buffer<float>::from_host(h).to_host();
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) CHECK(back[std::size_t(t)] == std::vector<float>(4096, float(t)));
}
