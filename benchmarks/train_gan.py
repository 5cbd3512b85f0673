"""Speed of Exp2SimGAN training and inference.

    python benchmarks/train_gan.py [--device cpu|cuda] [--batch-sizes 1 4 8]
                                   [--variants fp32 bf16+channels_last ...] [--seconds 3]
                                   [--budget 600] [--threads N] [--no-cpu] [--profile 20]

Training rows: paper architecture (ngf 64, 9 blocks, ndf 64, 256 patches), 256 x 256 crops, one
full DCLGAN step (both discriminators, both generators, identity and PatchNCE passes, the heads)
per iteration; one image = one crop of each domain. For every variant and batch size: milliseconds
per step, images/s, the ratio to the authors' code at paper settings, batch 1, on an H200 (8-10
images/s: 96-122 ms per step), and peak memory (CUDA: torch.cuda.max_memory_allocated over the
timed steps, "steady", and since the networks were built, "with set-up"; CPU: the process's
maxrss). A variant joins tokens with "+": fp32, bf16 or fp16 (autocast; fp16 with loss
scaling), channels_last, compile
(torch.compile of the networks), cudnn_benchmark (cuDNN picks its fastest convolution). Timing
runs ``--seconds`` of steps after two warm-up steps (compilation happens there; their time is
printed as "warm-up") and synchronises the device before reading the clock. Rows start only
while ``--budget`` seconds have not passed.
``--profile N`` then prints the N operators with the most self time (device time on CUDA) over
three steps of the fastest row's set-up.

CPU rows (unless --no-cpu): demo-size training (the `gan` section of config/demo.yaml) and the
time of exp2sim with a paper-size generator on one 240 x 400 spectrum; goal <= 3 s on 2 cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
from pathlib import Path

import torch

from exp2simgan_core.config import run_config
from exp2simgan_core.dataset import INTENSITY_RULE
from exp2simgan_core.gan.checkpoint import DataScaling
from exp2simgan_core.gan.networks import ResnetGenerator, translate_full
from exp2simgan_core.gan.settings import PRECISIONS, GanSettings
from exp2simgan_core.gan.state import build_training, grad_scaler
from exp2simgan_core.gan.train import low_pass_fidelity, train_step

PAPER = GanSettings(crop_size=256)  # ngf 64, 9 blocks, ndf 64, the authors' 256 x 256 crops
DEMO = GanSettings.from_config(run_config(Path(__file__).parents[1] / "config/demo.yaml")["gan"], 0)
SPECTRUM_SHAPE = (240, 400)  # the paper layout: rows Ei x H, columns energy bin x K
AUTHORS_IMAGES_PER_S = (8.0, 10.0)  # their code, paper settings, batch 1, H200
TOKENS = (*PRECISIONS, "channels_last", "compile", "cudnn_benchmark")
UNIT_SCALING = DataScaling(1.0, 1.0, INTENSITY_RULE)  # random crops: one scale for both domains


@dataclasses.dataclass(frozen=True)
class Timing:
    variant: str
    batch_size: int
    steps: int
    ms_per_step: float
    images_per_s: float
    peak_mib: float  # over the timed steps (CUDA) or the process so far (CPU)
    setup_peak_mib: float  # since the networks were built (CUDA); = peak_mib on CPU
    warmup_s: float  # the two warm-up steps, compilation included


def parse_variant(variant: str) -> dict:
    """GanSettings fields (and cudnn_benchmark) of a "+"-joined variant such as bf16+compile."""
    tokens = variant.split("+")
    unknown = sorted(set(tokens) - set(TOKENS))
    if unknown:
        raise SystemExit(f"variant {variant!r}: unknown token(s) {unknown}; allowed: {TOKENS}")
    precisions = [t for t in tokens if t in PRECISIONS] or ["fp32"]
    if len(precisions) > 1:
        raise SystemExit(f"variant {variant!r}: more than one precision {precisions}")
    return {
        "precision": precisions[0],
        "channels_last": "channels_last" in tokens,
        "compile": "compile" in tokens,
        "cudnn_benchmark": "cudnn_benchmark" in tokens,
    }


def paper_settings(variant: str, batch_size: int) -> GanSettings:
    """Paper-architecture GanSettings of ``variant``; sets cuDNN's benchmark mode to match it."""
    options = parse_variant(variant)
    torch.backends.cudnn.benchmark = options.pop("cudnn_benchmark")
    return dataclasses.replace(PAPER, batch_size=batch_size, **options)


def cpu_rss_mib() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def random_batches(settings: GanSettings, device: torch.device) -> list[tuple]:
    """Four (exp, sim) pairs of random crops in [-1, 1]; steps rotate among them, as in training."""
    layout = torch.channels_last if settings.channels_last else torch.contiguous_format
    shape = (settings.batch_size, 1) + (settings.crop_size,) * settings.dims
    return [
        tuple(
            (torch.rand(shape, device=device) * 2 - 1).contiguous(memory_format=layout)
            for _ in range(2)
        )
        for _ in range(4)
    ]


def profile_steps(settings: GanSettings, device: torch.device, top: int) -> str:
    """torch.profiler table of the ``top`` operators by self time (on CUDA: device time) over
    three steps after two warm-up steps: where a step's time goes."""
    torch.manual_seed(0)
    model, optimisers, _ = build_training(settings, device)
    scaler = grad_scaler(settings, device)
    lowpass = low_pass_fidelity(settings, UNIT_SCALING)
    batches = random_batches(settings, device)
    for real_exp, real_sim in batches[:2]:
        train_step(model, optimisers, real_exp, real_sim, settings, lowpass, scaler=scaler)
    synchronize(device)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        for real_exp, real_sim in batches[1:]:
            train_step(model, optimisers, real_exp, real_sim, settings, lowpass, scaler=scaler)
        synchronize(device)
    key = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=key, row_limit=top, max_name_column_width=60)


def time_training(
    settings: GanSettings, device: torch.device, seconds: float, variant: str = ""
) -> Timing:
    """Steps/s over about ``seconds`` of steps (at least 3) after two warm-up steps."""
    torch.manual_seed(0)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    model, optimisers, _ = build_training(settings, device)
    scaler = grad_scaler(settings, device)
    lowpass = low_pass_fidelity(settings, UNIT_SCALING)
    batches = random_batches(settings, device)
    start = time.perf_counter()
    for real_exp, real_sim in batches[:2]:
        train_step(model, optimisers, real_exp, real_sim, settings, lowpass, scaler=scaler)
    synchronize(device)
    warmup = time.perf_counter() - start
    setup_peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else 0.0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    train_step(model, optimisers, *batches[2], settings, lowpass, scaler=scaler)
    synchronize(device)
    one = time.perf_counter() - start
    steps = max(3, int(seconds / max(one, 1e-3)))
    start = time.perf_counter()
    for i in range(steps):
        train_step(model, optimisers, *batches[i % len(batches)], settings, lowpass, scaler=scaler)
    synchronize(device)
    elapsed = time.perf_counter() - start
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        setup_peak = max(setup_peak, peak)
    else:
        peak = setup_peak = cpu_rss_mib()
    return Timing(
        variant, settings.batch_size, steps, 1e3 * elapsed / steps,
        steps * settings.batch_size / elapsed, peak, setup_peak, warmup,
    )  # fmt: skip


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


def describe(t: Timing) -> str:
    low, high = (t.images_per_s / r for r in reversed(AUTHORS_IMAGES_PER_S))
    return (
        f"{t.variant:<40} batch {t.batch_size:>3}  {t.ms_per_step:8.1f} ms/step  "
        f"{t.images_per_s:8.2f} images/s  x{low:5.2f}-{high:5.2f} authors  "
        f"peak {t.peak_mib:7.0f} MiB steady, {t.setup_peak_mib:7.0f} MiB with set-up  "
        f"({t.steps} steps; warm-up {t.warmup_s:.0f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device for the paper-size runs")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1])
    parser.add_argument("--variants", nargs="+", default=["fp32"], help="e.g. bf16+compile")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per row")
    parser.add_argument("--budget", type=float, default=float("inf"), help="seconds for all rows")
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads (0: torch's default); 1 on a busy host"
    )
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU demo and inference")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N",
        help="after the rows, the N operators taking most time in the fastest row's set-up",
    )  # fmt: skip
    args = parser.parse_args()
    for variant in args.variants:  # unknown tokens stop here, before any work
        parse_variant(variant)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}, {device}: {name}")
    if not args.no_cpu:  # first, so that the process's peak memory is the demo's
        demo = time_training(DEMO, torch.device("cpu"), args.seconds, "fp32")
        print(
            f"demo size (ngf {DEMO.ngf}, {DEMO.n_blocks} blocks, ndf {DEMO.ndf}, "
            f"{DEMO.crop_size}x{DEMO.crop_size} crops), batch 1, cpu: "
            f"{demo.images_per_s:.2f} images/s, peak memory (process) {demo.peak_mib:.0f} MiB"
        )
        seconds = time_inference()
        print(f"inference exp2sim, paper generator, 240x400 spectrum, cpu: {seconds:.2f} s")
    began, rows = time.perf_counter(), []
    for variant in args.variants:
        for batch_size in args.batch_sizes:
            if time.perf_counter() - began > args.budget:
                print(f"{variant} batch {batch_size}: skipped, --budget {args.budget:.0f} s spent")
                continue
            settings = paper_settings(variant, batch_size)
            try:
                rows.append(time_training(settings, device, args.seconds, variant))
            except torch.OutOfMemoryError:
                print(f"{variant} batch {batch_size}: out of device memory")
                continue
            print(describe(rows[-1]), flush=True)
    if rows:
        best = max(rows, key=lambda t: t.images_per_s)
        print(f"\npaper architecture, 256x256 crops, {device} ({name}); fastest:\n{describe(best)}")
        if args.profile > 0:
            settings = paper_settings(best.variant, best.batch_size)
            print("\nwhere three steps of that set-up spend their time:")
            print(profile_steps(settings, device, args.profile))


if __name__ == "__main__":
    main()
