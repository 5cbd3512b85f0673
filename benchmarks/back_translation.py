"""How much does back-translation move the 2D Exp2Sim generator, over seeds and lengths?

    python benchmarks/back_translation.py [--results results/demo] [--seeds 0 1 2]
                                          [--iterations 1000 3000] [--threads 1]

For each seed and iteration count, ``back_translate_checkpoint`` retrains the Exp2Sim generator of
the run's ``gan2d/selected.pt`` on the Sim2Exp generator's pseudo-pairs of the training spectra
(as the workflow's ``back_translate_gan`` rule does), and the result translates

* every third training spectrum's *real* convolved version (back-translation only ever sees the
  unconvolved ones, so this is a validation set), and
* the held-out test pairs (as in ``tables/translation_quality.csv``),

printed as PSNR / SSIM before (the convolved input) and after, beside the GAN's own Exp2Sim and
the quality of the pseudo-pairs' inputs (Sim2Exp of the training spectra against the truth).
Times are the back-translation's wall time on this machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from exp2simgan_core.gan.back_translation import BackTranslationSettings
from exp2simgan_core.gan.checkpoint import load_generator
from exp2simgan_core.gan.translate import translate_spectra, translation_quality
from exp2simgan_core.io import read_h5
from exp2simgan_core.stages.gan import back_translate_checkpoint


def scores(checkpoint: Path, sets: dict[str, dict]) -> str:
    """'set PSNR a -> b, SSIM c -> d' for each set, Exp2Sim of ``checkpoint``."""
    generator = load_generator(checkpoint, "exp2sim")
    parts = []
    for name, data in sets.items():
        after = translate_spectra(generator, data["convolved"])
        q = translation_quality(after, data["unconvolved"], data["convolved"])
        parts.append(
            f"{name} {q['psnr_before']:.2f} -> {q['psnr_after']:.2f} dB, "
            f"SSIM {q['ssim_before']:.3f} -> {q['ssim_after']:.3f}"
        )
    return " | ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results/demo"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    selected = args.results / "gan2d" / "selected.pt"
    if not selected.exists():
        raise SystemExit(f"{selected} not found: run the workflow's 'gan' target first")
    train = read_h5(args.results / "data" / "train.h5").datasets
    sets = {
        "train/3": {k: train[k][::3] for k in ("convolved", "unconvolved")},
        "test": read_h5(args.results / "data" / "test.h5").datasets,
    }
    print(f"{'GAN Exp2Sim':<26} {scores(selected, sets)}", flush=True)
    pseudo = translate_spectra(load_generator(selected, "sim2exp"), train["unconvolved"])
    q = translation_quality(pseudo, train["convolved"], train["unconvolved"])
    print(
        f"{'pseudo-pairs':<26} Sim2Exp of the training spectra against their true convolved "
        f"versions {q['psnr_before']:.2f} -> {q['psnr_after']:.2f} dB, "
        f"SSIM {q['ssim_before']:.3f} -> {q['ssim_after']:.3f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        for iterations in args.iterations:
            for seed in args.seeds:
                out = Path(tmp) / f"bt_{iterations}_{seed}.pt"
                start = time.perf_counter()
                back_translate_checkpoint(
                    selected,
                    args.results / "data" / "train.h5",
                    out,
                    Path(tmp) / "losses.csv",
                    BackTranslationSettings(iterations=iterations, seed=seed),
                    progress=False,
                )
                seconds = time.perf_counter() - start
                label = f"{iterations} it, seed {seed} ({seconds:.0f} s)"
                print(f"{label:<26} {scores(out, sets)}", flush=True)


if __name__ == "__main__":
    main()
