#!/usr/bin/python3
"""PyTorch's CPU convolution on the problems of bench_conv2d, for the DESIGN.md target
"at least as fast as PyTorch's CPU convolution on the same shapes and threads".

Not a build dependency: run it by hand next to bench_conv2d (docs/benchmarks.md), with
Debian's python3-torch:

    OMP_NUM_THREADS=2 /usr/bin/python3 benchmarks/torch_conv2d_reference.py [--threads 2]

Prints one line per problem in bench_conv2d's naming (conv2d_fwd/torch/N4_C16_128, ...):
the fastest call and the median call in ms, and GFLOP/s of the fastest call, with the same
FLOP count as bench_conv2d (2·N·K·P·Q·C·R·S, 3× for forward+backward).
"""
import argparse
import statistics
import time

import torch


def problems():
    # Same order and shapes as register_all() in conv2d_bench.cpp: 3×3, padding 1, C = K = width.
    for batch in (4, 8):
        for size in (128, 192):
            for width in (16, 32, 64):
                yield batch, width, size


def time_calls(fn, min_seconds, min_calls):
    fn()  # warm-up: allocator and oneDNN primitive caches
    times = []
    start = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=1.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"mkldnn {torch.backends.mkldnn.is_available()}")
    print(f"{'benchmark':<34} {'best ms':>9} {'median ms':>10} {'GFLOP/s':>8}")
    for n, c, s in problems():
        flops = 2.0 * n * c * s * s * c * 9
        x = torch.full((n, c, s, s), 0.5, requires_grad=True)
        w = torch.full((c, c, 3, 3), 0.01, requires_grad=True)
        b = torch.full((c,), 0.1, requires_grad=True)
        dy = torch.full((n, c, s, s), 0.25)

        def forward():
            with torch.no_grad():
                torch.nn.functional.conv2d(x, w, b, padding=1)

        def forward_backward():
            x.grad = w.grad = b.grad = None
            torch.nn.functional.conv2d(x, w, b, padding=1).backward(dy)

        for mode, fn, factor in (("conv2d_fwd", forward, 1), ("conv2d_fwd_bwd", forward_backward, 3)):
            best, median = time_calls(fn, args.min_seconds, 5)
            name = f"{mode}/torch/N{n}_C{c}_{s}"
            print(f"{name:<34} {best * 1e3:9.3f} {median * 1e3:10.3f} {factor * flops / best / 1e9:8.1f}")


if __name__ == "__main__":
    main()
