// Does xtensor earn a place in the CPU backend's elementwise ops? Each op of ops/cpu/ as the
// library runs it (plain pointer loops in parallel_chunks, vectorised by the compiler) against
// the same chunks written as xtensor expressions (xt::adapt views, XTENSOR_USE_XSIMD: its
// explicit-SIMD assignment), and a memcpy of the same bytes as the memory-bandwidth yardstick.
// GB/s counts the bytes each op must move (relu: read x, write y; axpy and relu_backward: two
// reads, one write). Sizes: a width-32 U-Net's first-level activation (4×32×128², 8 MiB, past
// L2) and a deep one (4×256×16², 1 MiB, L2-resident). dropout (p = 0.2, library only): the
// mask is a hash per element, so it measures the hash's arithmetic as much as the bytes.
//
//   OMP_NUM_THREADS=2 ./bench_elementwise --benchmark_min_time=0.5
#define XTENSOR_USE_XSIMD 1
#include <benchmark/benchmark.h>

#include <xtensor/xadapt.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xoperation.hpp>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "modelmix/ops/cpu/dropout.hpp"
#include "modelmix/ops/cpu/elementwise.hpp"
#include "modelmix/tensor/tensor.hpp"

using namespace modelmix;

namespace {

enum class op { copy, relu, axpy, relu_backward, dropout };
enum class variant { library, xtensor };

const char* op_name(op o) {
  switch (o) {
    case op::copy: return "memcpy";
    case op::relu: return "relu";
    case op::axpy: return "axpy";
    case op::relu_backward: return "relu_backward";
    case op::dropout: return "dropout";
  }
  return "";
}
double bytes_per_element(op o) { return o == op::copy || o == op::relu || o == op::dropout ? 8.0 : 12.0; }

template <class T>
auto view(T* p, index_t i0, index_t i1) {
  const std::size_t n = std::size_t(i1 - i0);
  return xt::adapt(p + i0, n, xt::no_ownership(), std::array<std::size_t, 1>{n});  // static rank: linear SIMD assignment
}

void run(benchmark::State& state, op o, variant v, index_t n) {
  Tensor<float> x(Shape{n}), g(Shape{n}), y(Shape{n});
  for (index_t i = 0; i < n; ++i) {
    x[i] = float(i % 7) - 3.0f;
    g[i] = float(i % 5);
  }
  const float* px = x.data();
  const float* pg = g.data();
  float* py = y.data();
  for (auto _ : state) {
    if (v == variant::library) {
      switch (o) {
        case op::copy:
          ops::cpu::parallel_chunks(n, [=](index_t i0, index_t i1) {
            std::memcpy(py + i0, px + i0, sizeof(float) * std::size_t(i1 - i0));
          });
          break;
        case op::relu: ops::cpu::relu(px, py, n); break;
        case op::axpy: ops::cpu::axpy(0.5f, px, py, n); break;
        case op::relu_backward: ops::cpu::relu_backward(px, pg, py, n, true); break;
        case op::dropout: ops::cpu::dropout_apply(px, py, false, n, 1.25f, 0x5eedULL, std::uint64_t(0.2 * 0x1p53)); break;
      }
    } else {
      ops::cpu::parallel_chunks(n, [=](index_t i0, index_t i1) {
        auto yv = view(py, i0, i1);
        const auto xv = view(px, i0, i1);
        switch (o) {
          case op::copy: yv = xv; break;
          case op::relu: yv = xt::maximum(xv, 0.0f); break;
          case op::axpy: yv += 0.5f * xv; break;
          case op::relu_backward: yv = xt::where(xv > 0.0f, view(pg, i0, i1), 0.0f); break;
          case op::dropout: break;  // not registered
        }
      });
    }
    benchmark::DoNotOptimize(py);
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(bytes_per_element(o) * double(n) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

const int registered = [] {
  for (index_t n : {index_t(4) * 32 * 128 * 128, index_t(4) * 256 * 16 * 16})
    for (op o : {op::copy, op::relu, op::axpy, op::relu_backward, op::dropout})
      for (variant v : {variant::library, variant::xtensor}) {
        if (o == op::dropout && v == variant::xtensor) continue;
        const std::string name = std::string("elementwise/") + op_name(o) + "/" +
                                 (v == variant::library ? "library" : "xtensor") + "/n" + std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), [o, v, n](benchmark::State& s) { run(s, o, v, n); })->UseRealTime();
      }
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
