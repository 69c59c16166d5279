#!/usr/bin/python3
"""A training step, modelmix vs PyTorch on the same cores, interleaved: the U-Net step or the ModelMix step.

This machine class (shared 2-core VMs) drifts by ±20 % between one minute and the next, so a
ratio of two separate runs means little. Each round runs bench_unet_step for one
configuration and then PyTorch's same step (torch_unet_step.py) right after it; the table
gives per-round ratios and their median.

    /usr/bin/python3 benchmarks/compare_unet_step.py --bench build/benchmarks/bench_unet_step \
        [--rounds 5] [--threads 2] [--config 16,128,4 --config 32,128,4]

With --step modelmix the step is the whole two-task ModelMix step (bench_unet_step's
BM_modelmix_step = method::Trainer::step) against torch_modelmix_step.py's two versions of it:
the original code's deep copy of the network per virtual model, and a functional mix.

Ratio = PyTorch time / modelmix time, i.e. how many times faster modelmix is (> 1: faster).
For the U-Net step it also prints the step's convolution work (fprop + dgrad + wgrad, 2 FLOPs a
multiply-add; the first layer has no dgrad) as GFLOP/s of each side's median time, and with
--peak (the cores' FMA peak, e.g. twice cmake/cpu_width_probe.cpp's one-core figure) as a
fraction of it: the ceiling on any speed-up is what the other side leaves below the peak.
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

import torch_modelmix_step  # noqa: E402
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


def modelmix_ms(bench, step, width, size, batch, threads, min_time):
    name = f"BM_{step}_step/width:{width}/size:{size}/batch:{batch}/real_time"
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([bench, f"--benchmark_filter=^{name}$", f"--benchmark_min_time={min_time}",
                          "--benchmark_format=json"], env=env, check=True, capture_output=True, text=True)
    report = json.loads(out.stdout)
    rows = report["benchmarks"]
    if not rows:
        sys.exit(f"compare_unet_step: {bench} has no benchmark {name} (add the configuration to unet_step_bench.cpp)")
    return rows[0]["real_time"], report["context"].get("modelmix_simd", "?")


def unet_step_gflop(width, size, batch):
    """Convolution GFLOP of one U-Net training step: 3× each conv's forward work, less the first
    layer's dgrad (the image needs no gradient)."""
    model = torch_unet_step.UNet(width)
    forward, first = [], []

    def count(module, inputs, output):
        flops = 2 * output.numel() * module.in_channels * module.kernel_size[0] * module.kernel_size[1]
        forward.append(flops)
        if module.in_channels == 1:
            first.append(flops)

    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(count)
    with torch.no_grad():
        model(torch.zeros(batch, 1, size, size))
    return (3 * sum(forward) - sum(first)) * 1e-9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True, help="path to the bench_unet_step program")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=2.0)
    parser.add_argument("--config", action="append", default=[], help="WIDTH,SIZE,BATCH (repeatable)")
    parser.add_argument("--step", choices=["unet", "modelmix"], default="unet",
                        help="the U-Net step (default) or the two-task ModelMix step (BATCH per task)")
    parser.add_argument("--peak", type=float, default=0.0,
                        help="the cores' FMA peak in GFLOP/s: print each U-Net step's convolution rate as a fraction of it")
    args = parser.parse_args()
    if not os.access(args.bench, os.X_OK):
        sys.exit(f"compare_unet_step: --bench {args.bench!r} is not an executable file")
    torch.set_num_threads(args.threads)
    configs = [tuple(int(v) for v in c.split(",")) for c in args.config] or [(16, 128, 4), (32, 128, 4)]
    print(f"# {cpu_name()}, {args.threads} threads, torch {torch.__version__}, {args.rounds} rounds")
    # PyTorch's versions of the step: (label, function returning (median s, best s)).
    if args.step == "unet":
        references = [("torch", torch_unet_step.time_steps)]
    else:
        references = [(f"torch-{mix}", lambda w, s, b, t, mix=mix: torch_modelmix_step.time_steps(w, s, b, t, mix))
                      for mix in ("deepcopy", "functional")]
    header = " ".join(f"{label + ' ms':>18} {'ratio':>6}" for label, _ in references)
    print(f"{'width,size,batch':<18} {'modelmix ms':>12} {header}   per-round ratios")
    for width, size, batch in configs:
        ours, theirs = [], [[] for _ in references]
        for _ in range(args.rounds):
            mm, simd = modelmix_ms(args.bench, args.step, width, size, batch, args.threads, args.min_seconds)
            ours.append(mm)
            for k, (_, time_steps) in enumerate(references):
                theirs[k].append(time_steps(width, size, batch, args.min_seconds)[0] * 1e3)
        columns, per_round = [], []
        for times in theirs:
            ratios = [t / m for t, m in zip(times, ours)]
            columns.append(f"{statistics.median(times):18.1f} {statistics.median(ratios):6.2f}")
            per_round.append(" ".join(f"{r:.2f}" for r in ratios))
        print(f"{f'{width},{size},{batch}':<18} {statistics.median(ours):12.1f} {' '.join(columns)}   "
              f"{' | '.join(per_round)}", flush=True)
        if args.step == "unet":
            gflop = unet_step_gflop(width, size, batch)
            rates = [("modelmix", gflop / statistics.median(ours) * 1e3)]
            rates += [(label, gflop / statistics.median(times) * 1e3) for (label, _), times in zip(references, theirs)]
            of_peak = lambda rate: f" ({rate / args.peak:.0%} of {args.peak:g})" if args.peak > 0 else ""
            print(f"{'':<18} convolutions {gflop:.1f} GFLOP a step: " +
                  ", ".join(f"{label} {rate:.0f} GFLOP/s{of_peak(rate)}" for label, rate in rates), flush=True)
    print(f"# modelmix built for: {simd}")


if __name__ == "__main__":
    main()
