"""How close to the truth can the run's generator architecture deconvolve, given the pairs?

    python benchmarks/deconvolution_bound.py [--results results/demo] [--iterations 8000]
                                             [--context patches|spectra] [--loss mse|l1]
                                             [--lr 2e-4] [--threads 1]

Exp2SimGAN learns from unpaired spectra. This trains one generator of the selected checkpoint's
architecture and data scaling *supervised*, on paired data (the pairing the GAN never sees):
``--context patches`` the GAN's training patches (convolved -> unconvolved crops at the same
place), ``--context spectra`` the whole training spectra (every Ei row and energy bin in view). It
minimises MSE (or L1) in the scaled space, batch 1, Adam
(betas 0.5, 0.999). Every ``--every`` iterations it prints the PSNR / SSIM of
its translations of the held-out test pairs (``translation_quality``, as in
``tables/translation_quality.csv``) beside those of the convolved input, and at the end those of
the run's GAN for comparison. A supervised generator that does not get closer than the input
bounds what the unpaired GAN can be expected to show at the same size and training length.
A GAN outputs one plausible spectrum, not the mean of the plausible ones: the last line but one
estimates where an exact sampler of the posterior would land (3 dB below the posterior mean).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from exp2simgan_core.dataset import fill_masked, normalised
from exp2simgan_core.gan.checkpoint import LoadedGenerator, load_generator
from exp2simgan_core.gan.networks import GENERATORS
from exp2simgan_core.gan.translate import translate_spectra, translation_quality
from exp2simgan_core.io import read_h5

# A translator drawing exactly from the posterior p(unconvolved | convolved) has twice the
# posterior mean's expected squared error: 10 log10 2 dB lower PSNR per spectrum.
SAMPLER_PENALTY_DB = 10 * math.log10(2)

LOSSES = {
    "mse": lambda out, target: ((out - target) ** 2).mean(),
    "l1": lambda out, target: (out - target).abs().mean(),
}


def row(label: str, quality: dict) -> str:
    return (
        f"{label:<28} PSNR {quality['psnr_before']:6.2f} -> {quality['psnr_after']:6.2f} dB   "
        f"SSIM {quality['ssim_before']:.3f} -> {quality['ssim_after']:.3f}   "
        f"change cos {quality['change_cosine']:.2f}, size {quality['change_size']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results/demo"))
    parser.add_argument("--iterations", type=int, default=8000)
    parser.add_argument("--every", type=int, default=2000)
    parser.add_argument("--context", choices=("patches", "spectra"), default="patches")
    parser.add_argument("--loss", choices=sorted(LOSSES), default="mse")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    selected = args.results / "gan2d" / "selected.pt"
    if not selected.is_file():
        raise SystemExit(f"{selected} is missing: run the workflow through checkpoint selection")
    gan = load_generator(selected, "exp2sim")
    if args.context == "patches":
        patches = read_h5(args.results / "data" / "patches.h5").datasets
    else:
        spectra = read_h5(args.results / "data" / "train.h5").datasets
        patches = {d: normalised(spectra[d])[0] for d in ("convolved", "unconvolved")}
    test = read_h5(args.results / "data" / "test.h5").datasets
    before, truth = test["convolved"], test["unconvolved"]
    scaling = gan.scaling
    generator = GENERATORS["resnet"](gan.generator.settings)
    optimiser = torch.optim.Adam(generator.parameters(), lr=args.lr, betas=(0.5, 0.999))
    loss_fn = LOSSES[args.loss]
    rng = np.random.default_rng(args.seed)
    print(
        f"supervised {args.loss} on {len(patches['convolved'])} paired {args.context} of "
        f"{patches['convolved'].shape[1:]}; generator {gan.generator.settings}; "
        f"{len(before)} test pairs"
    )
    start = time.perf_counter()
    for iteration in range(1, args.iterations + 1):
        i = int(rng.integers(len(patches["convolved"])))
        x, y = (
            scaling.scale(torch.from_numpy(fill_masked(patches[d][i : i + 1, None])), d)
            for d in ("convolved", "unconvolved")
        )
        loss = loss_fn(generator(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if iteration % args.every == 0 or iteration == args.iterations:
            loaded = LoadedGenerator(generator, "exp2sim", "convolved", "unconvolved", scaling)
            generator.eval()
            quality = translation_quality(translate_spectra(loaded, before), truth, before)
            generator.train()
            elapsed = time.perf_counter() - start
            print(row(f"supervised, iteration {iteration}", quality), f"  ({elapsed:.0f} s)")
    print(
        f"{'exact posterior sampler':<28} PSNR {quality['psnr_before']:6.2f} -> "
        f"{quality['psnr_after'] - SAMPLER_PENALTY_DB:6.2f} dB   (if the last supervised output "
        "were the posterior mean)"
    )
    print(row("the run's GAN (unpaired)", translation_quality(
        translate_spectra(gan, before), truth, before
    )))  # fmt: skip


if __name__ == "__main__":
    main()
