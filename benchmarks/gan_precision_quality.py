"""Does a faster training set-up lose translation quality? Retrain a run's 2D GAN under each.

    python benchmarks/gan_precision_quality.py [--results results/demo] [--device cuda]
                                               [--precisions fp32 bf16] [--channels-last]
                                               [--seeds 0 1] [--workdir /tmp/gan_precision]

Takes the settings and configuration of the run's 2D GAN from ``gan2d/final.pt`` and retrains it
from ``data/patches.h5`` once per precision and seed (the run's seed unless ``--seeds`` names
others; same data; in parallel processes, at most ``--jobs`` at a time), then
does what the workflow does after training: selects generators by Fréchet distance on
``data/train.h5`` (``select_from_run``), translates ``data/test.h5`` in both directions and scores
the translations (``translation_quality``, all classes). Prints, per precision, PSNR / SSIM before
-> after and the training wall time. Inference stays float32 in every case; only training changes.
A GAN's result moves with any change to its training trajectory, so compare a precision's effect
with the spread over seeds.
On a GPU the runs share the card, so their wall times are comparable with each other only.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from exp2simgan_core.gan.checkpoint import load_checkpoint, load_generator
from exp2simgan_core.gan.pipeline import (
    DIRECTIONS,
    INPUT_DATASETS,
    OTHER,
    gan_settings,
    select_from_run,
)
from exp2simgan_core.gan.train import train
from exp2simgan_core.gan.translate import translate_spectra, translation_quality
from exp2simgan_core.io import read_h5


def retrain_and_score(
    results: Path, precision: str, seed: int | None, channels_last: bool, device: str, workdir: Path
) -> tuple[float, dict[str, dict]]:
    """Training seconds and {direction: quality} for one precision and seed (None: the run's)."""
    torch.set_num_threads(1)
    state = load_checkpoint(results / "gan2d" / "final.pt")
    if "config" not in state:
        raise SystemExit(f"{results}/gan2d/final.pt records no configuration: rerun the workflow")
    config = state["config"]
    settings = dataclasses.replace(
        gan_settings(config["gan"], config["seed"] if seed is None else seed, dims=2),
        precision=precision,
        channels_last=channels_last,
    )
    patches = read_h5(results / "data" / "patches.h5").datasets
    run = workdir / f"{precision}_seed{settings.seed}"
    start = time.perf_counter()
    train(settings, patches["convolved"], patches["unconvolved"], run / "run", False, device=device)
    seconds = time.perf_counter() - start
    selected = run / "selected.pt"
    select_from_run(
        run / "run", results / "data" / "train.h5", selected, run / "selection.csv",
        max_spectra=config["gan"]["selection_spectra"], seed=config["seed"], device=device,
    )  # fmt: skip
    test = read_h5(results / "data" / "test.h5").datasets
    quality = {}
    for direction in DIRECTIONS:
        before = test[INPUT_DATASETS[direction]]
        loaded = load_generator(selected, direction)
        pred = translate_spectra(loaded, before, device=device)
        target = test[INPUT_DATASETS[OTHER[direction]]]
        quality[direction] = translation_quality(pred, target, before)
    return seconds, quality


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results/demo"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[None], help="default: the run's")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=spawn) as pool:
            futures = {
                (p, seed): pool.submit(
                    retrain_and_score,
                    args.results,
                    p,
                    seed,
                    args.channels_last,
                    args.device,
                    workdir,
                )
                for seed in args.seeds
                for p in args.precisions
            }
            outcomes = {key: f.result() for key, f in futures.items()}
    print(f"{args.results} 2D GAN retrained on {args.device}, channels_last {args.channels_last}")
    for (precision, seed), (seconds, quality) in outcomes.items():
        for direction, q in quality.items():
            print(
                f"{precision:<5} seed {'run' if seed is None else seed:<4} {direction:<8} PSNR "
                f"{q['psnr_before']:6.2f} -> "
                f"{q['psnr_after']:6.2f} dB   SSIM {q['ssim_before']:.3f} -> {q['ssim_after']:.3f}"
                f"   (training {seconds:.0f} s)"
            )


if __name__ == "__main__":
    main()
