"""Does a faster training set-up lose translation quality? Retrain a run's 2D GAN under each.

    python benchmarks/gan_precision_quality.py [--results results/demo] [--device cuda]
                                               [--precisions fp32 bf16] [--channels-last]
                                               [--workdir /tmp/gan_precision]

Takes the settings and configuration of the run's 2D GAN from ``gan2d/final.pt`` and retrains it
from ``data/patches.h5`` once per precision (same seed, same data, in parallel processes), then
does what the workflow does after training: selects generators by Fréchet distance on
``data/train.h5`` (``select_from_run``), translates ``data/test.h5`` in both directions and scores
the translations (``translation_quality``, all classes). Prints, per precision, PSNR / SSIM before
-> after and the training wall time. Inference stays float32 in every case; only training changes.
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
    results: Path, precision: str, channels_last: bool, device: str, workdir: Path
) -> tuple[float, dict[str, dict]]:
    """Training seconds and {direction: quality} for one precision."""
    torch.set_num_threads(1)
    state = load_checkpoint(results / "gan2d" / "final.pt")
    config = state["config"]
    settings = dataclasses.replace(
        gan_settings(config["gan"], config["seed"], dims=2),
        precision=precision,
        channels_last=channels_last,
    )
    patches = read_h5(results / "data" / "patches.h5").datasets
    run = workdir / precision
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
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(len(args.precisions), mp_context=spawn) as pool:
            futures = {
                p: pool.submit(
                    retrain_and_score, args.results, p, args.channels_last, args.device, workdir
                )
                for p in args.precisions
            }
            outcomes = {p: f.result() for p, f in futures.items()}
    print(f"{args.results} 2D GAN retrained on {args.device}, channels_last {args.channels_last}")
    for precision, (seconds, quality) in outcomes.items():
        for direction, q in quality.items():
            print(
                f"{precision:<5} {direction:<8} PSNR {q['psnr_before']:6.2f} -> "
                f"{q['psnr_after']:6.2f} dB   SSIM {q['ssim_before']:.3f} -> {q['ssim_after']:.3f}"
                f"   (training {seconds:.0f} s)"
            )


if __name__ == "__main__":
    main()
