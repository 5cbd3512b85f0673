"""Speed of Exp2SimGAN training and inference.

    python benchmarks/train_gan.py [--device cpu|cuda] [--iterations 3] [--batch-size 1]
                                   [--threads N] [--precision bf16] [--channels-last] [--compile]

Prints training images/s (one image = one crop of each domain passing one full DCLGAN step) and
peak memory (CUDA: torch.cuda.max_memory_allocated; CPU: the process's maxrss) at the paper
architecture with 256 x 256 crops, at demo-sized settings on CPU, and the CPU time of exp2sim on a
240 x 400 spectrum. Reference: the authors' code at paper settings, batch 1, on an H200 trains at
8-10 images/s; goal >= 4x that, and inference <= 3 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time

import torch

from exp2simgan_core.gan.networks import ResnetGenerator, translate_full
from exp2simgan_core.gan.train import GanSettings, build_training, train_step

PAPER = GanSettings()  # ngf 64, 9 blocks, ndf 64, 256 x 256 crops, 256 patches
DEMO = GanSettings(ngf=16, n_blocks=6, ndf=16, crop_size=64, num_patches=128, mlp_dim=128)
SPECTRUM_SHAPE = (240, 400)  # (energy bins, momentum bins)


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


def time_training(settings: GanSettings, device: torch.device, iterations: int) -> float:
    """Images per second over ``iterations`` steps after one warm-up step."""
    torch.manual_seed(0)
    model, optimisers, _ = build_training(settings, device)
    shape = (settings.batch_size, 1) + (settings.crop_size,) * settings.dims
    real_exp = torch.rand(shape, device=device) * 2 - 1
    real_sim = torch.rand(shape, device=device) * 2 - 1
    train_step(model, optimisers, real_exp, real_sim, settings)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(iterations):
        train_step(model, optimisers, real_exp, real_sim, settings)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return iterations * settings.batch_size / (time.perf_counter() - start)


def time_inference(repeats: int = 2) -> float:
    """Best seconds of translate_full with a paper-size exp2sim generator on a CPU spectrum."""
    generator = ResnetGenerator(PAPER.generator_settings())
    x = torch.rand(1, 1, *SPECTRUM_SHAPE) * 2 - 1
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        translate_full(generator, x)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device for the paper-size run")
    parser.add_argument("--iterations", type=int, default=3, help="timed steps per setting")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads (0: torch's default); 1 on a busy host"
    )
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}, device {device}")
    paper = dataclasses.replace(
        PAPER,
        batch_size=args.batch_size,
        precision=args.precision,
        channels_last=args.channels_last,
        compile=args.compile,
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rate = time_training(paper, device, args.iterations)
    print(
        f"paper architecture, 256x256 crops, batch {args.batch_size}, {args.precision}, "
        f"channels_last {args.channels_last}, compile {args.compile}, {device}: "
        f"{rate:.3f} images/s, peak memory {peak_memory_mib(device):.0f} MiB"
    )
    cpu = torch.device("cpu")
    demo = dataclasses.replace(DEMO, batch_size=args.batch_size)
    rate = time_training(demo, cpu, max(args.iterations, 5))
    print(
        f"demo size (ngf {demo.ngf}, {demo.n_blocks} blocks, ndf {demo.ndf}, "
        f"{demo.crop_size}x{demo.crop_size} crops), batch {args.batch_size}, cpu: "
        f"{rate:.2f} images/s, peak memory (process) {peak_memory_mib(cpu):.0f} MiB"
    )
    seconds = time_inference()
    print(f"inference exp2sim, paper generator, 240x400 spectrum, cpu: {seconds:.2f} s")


if __name__ == "__main__":
    main()
