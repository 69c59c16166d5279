// The one dispatch point: the device of an op's inputs picks the backend.
#include <catch2/catch.hpp>

#include "modelmix/ops/dispatch.hpp"

using namespace modelmix;

TEST_CASE("run_on calls the backend of the device", "[ops][device]") {
  int cpu_calls = 0, cuda_calls = 0;
  const auto on_cpu = [&] { return ++cpu_calls; };
  const auto on_cuda = [&] { return 10 + ++cuda_calls; };
  CHECK(ops::run_on("op", device::cpu, on_cpu, on_cuda) == 1);
  CHECK(ops::run_on("op", device::cuda, on_cpu, on_cuda) == 11);
  CHECK(cpu_calls == 1);
  CHECK(cuda_calls == 1);
  // An op without a CUDA kernel refuses device inputs, naming itself.
  CHECK_THROWS_WITH(ops::run_on("max_pool2d", device::cuda, on_cpu),
                    Catch::Contains("max_pool2d: no CUDA kernel for this op yet"));
  CHECK(cpu_calls == 1);
}

TEST_CASE("device_of takes the inputs' common device", "[ops][device]") {
  const Tensor<float> a(Shape{2}), b(Shape{3});
  const Tensor<double> c(Shape{1});
  CHECK(ops::device_of("add", {a, b, c}) == device::cpu);
  CHECK_THROWS_WITH(ops::device_of("add", {}), Catch::Contains("add: no inputs"));
}
