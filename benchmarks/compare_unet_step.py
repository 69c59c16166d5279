#!/usr/bin/python3
"""The U-Net training step, modelmix vs PyTorch on the same cores, interleaved.

This machine class (shared 2-core VMs) drifts by ±20 % between one minute and the next, so a
ratio of two separate runs means little. Each round runs bench_unet_step for one
configuration and then PyTorch's same step (torch_unet_step.py) right after it; the table
gives per-round ratios and their median.

    /usr/bin/python3 benchmarks/compare_unet_step.py --bench build/benchmarks/bench_unet_step \
        [--rounds 5] [--threads 2] [--config 16,128,4 --config 32,128,4]

Ratio = PyTorch time / modelmix time, i.e. how many times faster modelmix is (> 1: faster).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import torch_unet_step  # noqa: E402


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def modelmix_ms(bench, width, size, batch, threads, min_time):
    name = f"BM_unet_step/width:{width}/size:{size}/batch:{batch}/real_time"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([bench, f"--benchmark_filter=^{name}$", f"--benchmark_min_time={min_time}",
                          "--benchmark_format=json"], env=env, check=True, capture_output=True, text=True)
    report = json.loads(out.stdout)
    rows = report["benchmarks"]
    if not rows:
        sys.exit(f"compare_unet_step: {bench} has no benchmark {name} (add the configuration to unet_step_bench.cpp)")
    return rows[0]["real_time"], report["context"].get("modelmix_simd", "?")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True, help="path to the bench_unet_step program")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--config", action="append", default=[], help="WIDTH,SIZE,BATCH (repeatable)")
    args = parser.parse_args()
    if not os.access(args.bench, os.X_OK):
        sys.exit(f"compare_unet_step: --bench {args.bench!r} is not an executable file")
    torch.set_num_threads(args.threads)
    configs = [tuple(int(v) for v in c.split(",")) for c in args.config] or [(16, 128, 4), (32, 128, 4)]
    print(f"# {cpu_name()}, {args.threads} threads, torch {torch.__version__}, {args.rounds} rounds")
    print(f"{'width,size,batch':<18} {'modelmix ms':>12} {'torch ms':>10} {'ratio':>7}   per-round ratios")
    for width, size, batch in configs:
        ours, theirs, ratios = [], [], []
        for _ in range(args.rounds):
            mm, simd = modelmix_ms(args.bench, width, size, batch, args.threads, args.min_seconds)
            th, _ = torch_unet_step.time_steps(width, size, batch, args.min_seconds)
            ours.append(mm)
            theirs.append(th * 1e3)
            ratios.append(th * 1e3 / mm)
        print(f"{f'{width},{size},{batch}':<18} {statistics.median(ours):12.1f} {statistics.median(theirs):10.1f} "
              f"{statistics.median(ratios):7.2f}   {' '.join(f'{r:.2f}' for r in ratios)}", flush=True)
    print(f"# modelmix built for: {simd}")


if __name__ == "__main__":
    main()
