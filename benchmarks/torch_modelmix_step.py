#!/usr/bin/python3
"""PyTorch doing one ModelMix training step (two tasks), to compare with method::Trainer::step().

Two tasks, one torch_unet_step.UNet per task (train mode), one Adam (lr 1e-3, weight decay
5e-4) over both nets. Per task t with partner s, on its own fixed batch (x, y), the task loss is
docs/method.md's "One step":

    supervised   pCE(p, y) + Dice(p, y),                 p = f_t(x)
    mixup        pCE(f_t(x̃), ỹ),                         x̃ = βx + (1−β)x_rev, β ~ Beta(0.5, 0.5) per sample
    mix cons.    1 − mean_{n,c} cos(f_t(x̃), βp + (1−β)p_rev)
    modelmix     pCE + Dice of f_t^λ(rot x) against rot y
    invariance   −mean_{n,c} cos(p, rot⁻¹ f_t^λ(rot x))

where f_t^λ is f_t with one encoder layer (conv, or BN's affine γ/β; the same layer for both
tasks) replaced by λ·θ_t + (1−λ)·θ_s, λ ~ Beta(0.5, 0.5) per task, one angle ~ U(0°, 360°).
The sum over tasks takes one Adam step. Draws come from random.Random(step), so every run
times the same sequence of layers, angles and mixing weights.

The virtual model f_t^λ is built two ways (--mix):
  deepcopy    the original authors' code: copy.deepcopy(f_t), overwrite the layer under
              no_grad, forward through the copy. The gradient of f_t^λ(rot x) stops at the
              copy (computed for its parameters, then thrown away), so no parent learns from
              it, and every step pays for copying a whole net.
  functional  torch.nn.utils.stateless.functional_call with the mixed tensors, no copy; the
              gradient reaches both parents of the mixed layer and every other layer of f_t.
              This is what modelmix does (gradient_policy::both, detach_virtual_model=false).

Not a build dependency; run with Debian's python3-torch under /usr/bin/python3:

    OMP_NUM_THREADS=2 /usr/bin/python3 benchmarks/torch_modelmix_step.py --threads 2
    python3 benchmarks/torch_modelmix_step.py --device cuda --config 64,256,8   # on a GPU

Prints one line per (configuration, variant), e.g.
torch-functional/BM_modelmix_step/width:16/size:128/batch:4, with the median and best step in ms.
"""
import argparse
import copy
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.utils import stateless  # noqa: E402

from torch_unet_step import UNet, header, inputs, pce, peak, start_peak, time_loop  # noqa: E402

MIXES = ("deepcopy", "functional")


def dice(p, y, eps=1e-5):
    """1 − mean Dice over the classes that have a scribbled pixel, counted on scribbled pixels only."""
    m = (y.sum(1, keepdim=True) > 0).to(p.dtype)
    inter = (p * y).sum((0, 2, 3))
    pred = (p * m).sum((0, 2, 3))
    true = y.sum((0, 2, 3))
    present = true > 0
    return 1 - ((2 * inter + eps) / (pred + true + eps))[present].mean()


def rotate(x, degrees):
    """Rotate every image of x by degrees about its centre: nearest neighbour, zero fill."""
    a = math.radians(degrees)
    theta = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]],
                         dtype=x.dtype, device=x.device).expand(x.shape[0], 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def cosine(a, b):
    """Cosine similarity per (sample, class) over pixels."""
    return F.cosine_similarity(a.flatten(2), b.flatten(2), dim=2, eps=1e-8)


def mixable_layers(net):
    """Names of the encoder's Conv2d and BatchNorm2d modules (the layers ModelMix may mix)."""
    return [name for name, m in net.named_modules()
            if name.startswith("encoder.") and isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]


def draw(step, n_layers, batch):
    """The step's random choices: layer index, shared angle, per-task λ and per-sample β."""
    rng = random.Random(step)
    layer = rng.randrange(n_layers)
    angle = rng.uniform(0.0, 360.0)
    lambdas = [rng.betavariate(0.5, 0.5) for _ in range(2)]
    betas = [torch.tensor([rng.betavariate(0.5, 0.5) for _ in range(batch)]).view(batch, 1, 1, 1)
             for _ in range(2)]
    return layer, angle, lambdas, betas


def virtual_forward(nets, t, layer, lam, x_rot, mix):
    """f_t^λ(x_rot): f_t with `layer`'s weight and bias set to λ·θ_t + (1−λ)·θ_s."""
    f, partner = nets[t], nets[1 - t]
    names = (f"{layer}.weight", f"{layer}.bias")
    own, other = dict(f.named_parameters()), dict(partner.named_parameters())
    if mix == "deepcopy":
        # As the original: the copy's parameters still require grad, so backward computes
        # their gradients too, and then nothing reads them.
        v = copy.deepcopy(f)
        copied = dict(v.named_parameters())
        with torch.no_grad():
            for n in names:
                copied[n].copy_(lam * own[n] + (1 - lam) * other[n])
        return v(x_rot)
    mixed = {n: lam * own[n] + (1 - lam) * other[n] for n in names}
    return stateless.functional_call(f, mixed, (x_rot,))


def task_loss(nets, t, batch, layer, angle, lam, beta, mix):
    """Task t's ModelMix loss: supervised + mixup + mix consistency + virtual model + invariance."""
    f = nets[t]
    x, y = batch
    p = f(x)
    sup = pce(p, y) + dice(p, y)

    x_mix = beta * x + (1 - beta) * x.flip(0)
    y_mix = beta * y + (1 - beta) * y.flip(0)
    p_mix = f(x_mix)
    mixup = pce(p_mix, y_mix, eps=1e-5)
    q = beta * p + (1 - beta) * p.flip(0)
    mc = 1 - cosine(p_mix, q).mean()

    x_rot, y_rot = rotate(x, angle), rotate(y, angle)
    p_mm = virtual_forward(nets, t, layer, lam, x_rot, mix)
    vic = pce(p_mm, y_rot) + dice(p_mm, y_rot)
    inv = -cosine(p, rotate(p_mm, -angle)).mean()
    return sup + mixup + mc + vic + inv


def setup(width, size, batch, device="cpu"):
    """Two nets, one Adam over both, and each task's fixed batch (task 1: the images mirrored)."""
    torch.manual_seed(1)
    nets = [UNet(width).train().to(device) for _ in range(2)]
    adam = torch.optim.Adam([q for net in nets for q in net.parameters()], lr=1e-3, weight_decay=5e-4)
    image, target = (t.to(device) for t in inputs(batch, size))
    batches = [(image, target), (image.flip(3), target.flip(3))]
    return nets, adam, batches


def time_steps(width, size, batch, min_seconds, mix, warmup=4, device="cpu"):
    """Median and best seconds of one two-task ModelMix step with virtual-model variant `mix`."""
    if mix not in MIXES:
        raise ValueError(f"mix must be one of {MIXES}, not {mix!r}")
    nets, adam, batches = setup(width, size, batch, device)
    layers = mixable_layers(nets[0])
    counter = iter(range(1 << 62))

    def step():
        layer, angle, lambdas, betas = draw(next(counter), len(layers), batch)
        betas = [b.to(device) for b in betas]
        total = sum(task_loss(nets, t, batches[t], layers[layer], angle, lambdas[t], betas[t], mix)
                    for t in range(2))
        adam.zero_grad(set_to_none=True)
        total.backward()
        adam.step()
        loss = float(total)
        if not math.isfinite(loss):
            raise RuntimeError(f"{mix}: loss {loss} is not finite")

    return time_loop(step, min_seconds, warmup)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--min-seconds", type=float, default=3.0)
    parser.add_argument("--config", action="append", default=[],
                        help="WIDTH,SIZE,BATCH (repeatable; BATCH per task); default 16,128,4 and 32,128,4")
    parser.add_argument("--mix", choices=MIXES + ("both",), default="both",
                        help="how the virtual model is built (default: both, one line each)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="cuda: the first GPU, and the peak of torch.cuda.max_memory_allocated per line")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    configs = [tuple(int(v) for v in c.split(",")) for c in args.config] or [(16, 128, 4), (32, 128, 4)]
    mixes = MIXES if args.mix == "both" else (args.mix,)
    print(header(args.device))
    for width, size, batch in configs:
        for mix in mixes:
            start_peak(args.device)
            median, best = time_steps(width, size, batch, args.min_seconds, mix, device=args.device)
            print(f"torch-{mix}/BM_modelmix_step/width:{width}/size:{size}/batch:{batch}  "
                  f"median {median * 1e3:9.2f} ms  best {best * 1e3:9.2f} ms{peak(args.device)}", flush=True)


if __name__ == "__main__":
    main()
