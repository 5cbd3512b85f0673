"""Which part of the convolved - unconvolved difference is the instrument's resolution?

    python benchmarks/convolution_budget.py [--config config/demo.yaml] [--n 8] [--seed 0]
                                            [--n-pix 16 40] [--unconvolved bin_centre]

A convolved spectrum differs from its unconvolved pair (the modes at each pixel centre) by the
MAPS energy resolution, the in-plane Q resolution and the average over the pixel's area and
energy bin (``physics.spectra``). This draws ``--n`` spectra per training model at each panel
size ``--n-pix`` (the config's layout otherwise) and computes each one's convolved version four
ways, turning parts off with the spectrum settings (an energy width of 1e-3 x PyChop's stands for
none). Against the unconvolved truth it prints PSNR / SSIM (as ``tables/translation_quality.csv``)
and, for each partial version, how much of the step from the full convolution to the truth it
takes (``change_agreement``: cosine and size of partial - full against truth - full). A method
that removed the energy and Q resolution exactly (Richardson-Lucy with the true kernels, ideally)
would land on the "pixel average only" row; what is left beyond it is the dispersion averaged
over a pixel, which only a model of the spectra can undo. ``--unconvolved`` replaces the config's
definition of the truth. Every spectrum is divided by its own mean over covered pixels (the unit
the networks read, ``dataset.intensity_unit``) before it is compared, so ``bin_centre``'s point
densities, on another scale than the convolved spectra, are compared in that unit.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from exp2simgan_core.config import run_config, spectrum_settings
from exp2simgan_core.dataset import intensity_unit
from exp2simgan_core.gan.translate import translation_quality
from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.physics.models import get_model
from exp2simgan_core.physics.spectra import UNCONVOLVED, SpectrumCalculator
from exp2simgan_core.simulate import draw_spectra, stream_rng
from exp2simgan_core.vocabulary import CLASSES

NO_ENERGY_WIDTH = 1e-3  # x PyChop's sigma: the energy resolution effectively off
VARIANTS = {  # label -> SpectrumSettings changes; the first is the reference (full)
    "full convolution": {},
    "no Q resolution": {"q_resolution": False},
    "pixel average + Q resolution": {"energy_width_factor": NO_ENERGY_WIDTH},
    "pixel average only": {"energy_width_factor": NO_ENERGY_WIDTH, "q_resolution": False},
}


def per_mean(spectra: np.ndarray) -> np.ndarray:
    """(n, rows, cols) spectra, each divided by its mean over covered pixels (NaN kept)."""
    return spectra / intensity_unit(spectra)[:, None, None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config/demo.yaml"))
    parser.add_argument("--n", type=int, default=8, help="spectra per model class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-pix", type=int, nargs="+", default=None)
    parser.add_argument("--unconvolved", choices=UNCONVOLVED, default=None)
    args = parser.parse_args()
    base = spectrum_settings(run_config(args.config)).spectrum
    if args.unconvolved is not None:
        base = dataclasses.replace(base, unconvolved=args.unconvolved)
    assert isinstance(base.layout, Layout2D), "2D layouts only"
    for n_pix in args.n_pix or [base.layout.n_pix]:
        layout = dataclasses.replace(base.layout, n_pix=n_pix)
        start = time.perf_counter()
        spectra = {label: [] for label in VARIANTS}
        truth = []
        for name in CLASSES:
            model = get_model(name)
            settings = dataclasses.replace(base, layout=layout)
            params, unconv, conv, _ = draw_spectra(
                SpectrumCalculator(model, settings), args.n, stream_rng(args.seed, name, 0), False
            )
            truth.append(unconv)
            spectra["full convolution"].append(conv)
            for label, change in list(VARIANTS.items())[1:]:  # the same draws, parts turned off
                calc = SpectrumCalculator(model, dataclasses.replace(settings, **change))
                spectra[label].append(np.stack([calc.pair(p)[1] for p in params]))
        truth = per_mean(np.concatenate(truth))
        full = per_mean(np.concatenate(spectra["full convolution"]))
        print(
            f"\n{n_pix} x {n_pix} pixels per panel ({layout.pixel_width:.3f} r.l.u.), "
            f"{len(truth)} spectra, truth {base.unconvolved}, {time.perf_counter() - start:.0f} s"
        )
        for label in VARIANTS:
            q = translation_quality(per_mean(np.concatenate(spectra[label])), truth, full)
            share = (
                ""
                if label == "full convolution"
                else f"   step to truth: cos {q['change_cosine']:.2f}, size {q['change_size']:.2f}"
            )
            print(
                f"  {label:<30} PSNR {q['psnr_after']:6.2f} dB  SSIM {q['ssim_after']:.3f}{share}"
            )


if __name__ == "__main__":
    main()
