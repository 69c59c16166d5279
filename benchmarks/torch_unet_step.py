#!/usr/bin/python3
"""PyTorch doing the same U-Net training step as bench_unet_step (BM_unet_step).

The network is the library's models::UNet (include/modelmix/models/unet.hpp), layer for layer:
conv3×3 → BN → ReLU → dropout → conv3×3 → BN → ReLU blocks, max-pool 2, nearest ×2 upsample →
conv3×3 → BN → ReLU, channel concat (skip first), a 1×1 head and softmax; partial
cross-entropy on the probabilities against a sparse one-hot target (every 7th pixel, class
by row); Adam with default options. Same shapes, same input and target construction.

Not a build dependency: benchmarks/compare_unet_step.sh runs it interleaved with the C++
benchmark (Debian's python3-torch under /usr/bin/python3):

    OMP_NUM_THREADS=2 /usr/bin/python3 benchmarks/torch_unet_step.py --threads 2

Prints one line per configuration in Google Benchmark's naming
(BM_unet_step/width:16/size:128/batch:4) with the median and best step in ms.
"""
import argparse
import sys
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ENCODER_DROPOUT = (0.05 / 3, 0.1 / 3, 0.2 / 3, 0.3 / 3, 0.5 / 3)


class Block(nn.Module):
    def __init__(self, cin, cout, p):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(cout)
        self.dropout = nn.Dropout(p)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        h = self.dropout(F.relu(self.bn1(self.conv1(x))))
        return F.relu(self.bn2(self.conv2(h)))


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn = nn.BatchNorm2d(cout)
        self.block = Block(2 * cout, cout, 0.0)

    def forward(self, x, skip):
        h = F.relu(self.bn(self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))))
        return self.block(torch.cat([skip, h], dim=1))


class UNet(nn.Module):
    def __init__(self, width, depth=5, classes=4):
        super().__init__()
        chans = [width * 2 ** i for i in range(depth)]
        self.encoder = nn.ModuleList(
            Block(1 if i == 0 else chans[i - 1], chans[i], ENCODER_DROPOUT[i]) for i in range(depth))
        self.decoder = nn.ModuleList(Up(chans[i], chans[i - 1]) for i in range(depth - 1, 0, -1))
        self.head = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.encoder):
            x = block(F.max_pool2d(x, 2) if i else x)
            skips.append(x)
        for i, up in enumerate(self.decoder):
            x = up(x, skips[-2 - i])
        return torch.softmax(self.head(x), dim=1)


def inputs(batch, size):
    g = torch.Generator().manual_seed(12345)
    image = torch.rand((batch, 1, size, size), generator=g) * 2 - 1
    target = torch.zeros((batch, 4, size, size))
    plane = target.view(batch, 4, -1)
    idx = torch.arange(0, size * size, 7)
    plane[:, (idx // size) % 4, idx] = 1.0  # advanced indexing pairs the two index tensors
    return image, target


def pce(p, y, eps=1e-10):
    return -(y * torch.log(p + eps)).sum() / y.sum()


def time_steps(width, size, batch, min_seconds, warmup=4, device="cpu"):
    torch.manual_seed(1)
    net = UNet(width).train().to(device)
    adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    image, target = (t.to(device) for t in inputs(batch, size))

    def step():
        loss = pce(net(image), target)
        adam.zero_grad(set_to_none=True)
        loss.backward()
        adam.step()
        return float(loss)

    return time_loop(step, min_seconds, warmup)


def time_loop(step, min_seconds, warmup=4):
    """Median and best seconds of step() after `warmup` untimed calls: at least 5 timed calls
    and at least min_seconds of them. step() must wait for its own work (on a GPU: read a
    loss value back, as float(loss) does)."""
    for _ in range(warmup):
        step()
    times = []
    start = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def header(device):
    """The first line of the output: versions, threads, and the GPU when there is one."""
    line = f"# torch {torch.__version__}, {torch.get_num_threads()} threads, mkldnn {torch.backends.mkldnn.is_available()}"
    if device == "cuda":
        if not torch.cuda.is_available():
            sys.exit("--device cuda: this torch sees no CUDA device (torch.cuda.is_available() is False)")
        line += f", device {torch.cuda.get_device_name()}, cudnn {torch.backends.cudnn.version()}"
    return line


def start_peak(device):
    """Starts a new high-water mark of the memory torch allocated on the GPU."""
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak(device):
    """'  peak_device_MB N' since start_peak (torch.cuda.max_memory_allocated), or '' on the CPU."""
    return f"  peak_device_MB {torch.cuda.max_memory_allocated() / 1e6:9.1f}" if device == "cuda" else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=3.0)
    parser.add_argument("--config", action="append", default=[],
                        help="WIDTH,SIZE,BATCH (repeatable); default 16,128,4 and 32,128,4")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: the first GPU, and the peak of torch.cuda.max_memory_allocated per line")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    configs = [tuple(int(v) for v in c.split(",")) for c in args.config] or [(16, 128, 4), (32, 128, 4)]
    print(header(args.device))
    for width, size, batch in configs:
        start_peak(args.device)
        median, best = time_steps(width, size, batch, args.min_seconds, device=args.device)
        print(f"torch/BM_unet_step/width:{width}/size:{size}/batch:{batch}  median {median * 1e3:9.2f} ms  "
              f"best {best * 1e3:9.2f} ms{peak(args.device)}", flush=True)


if __name__ == "__main__":
    main()
