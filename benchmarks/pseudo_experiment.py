"""Why does a classifier call the pseudo-experiment what it does? Its parts, one at a time.

    python benchmarks/pseudo_experiment.py [--run results/demo] [--config config/demo.yaml]
        [--realisations 10]

The pseudo-experiment is the Goodenough best fit, convolved, through the experiment model
(``physics/experiment.py``: background, spurions, counting noise, subtraction error, dead tubes).
This classifies, with a finished run's own DUQ classifiers (``duq/*.pt``) and Exp2Sim generator
(``gan2d/selected.pt``), the best fit unconvolved and convolved without any of that, then the
convolved one with each part of the experiment model alone (``--realisations`` noise draws each)
and with all of them, raw and GAN-deconvolved. It prints how many spectra each classifier calls
Goodenough and the mean kernel values [Dimer | Goodenough], so that a wrong call can be put on
the domain gap (already wrong on the noiseless convolved spectrum) or on the experiment model.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from exp2simgan_core.config import run_config, spectrum_settings
from exp2simgan_core.duq import classify, load_duq
from exp2simgan_core.gan.checkpoint import load_generator
from exp2simgan_core.gan.translate import translate_spectra
from exp2simgan_core.physics.experiment import ExperimentSettings, make_experiment_like
from exp2simgan_core.physics.models import get_model
from exp2simgan_core.physics.spectra import SpectrumCalculator

NOTHING = dict(
    background_q2=0.0,
    background_flat=0.0,
    background_elastic=0.0,
    background_error=0.0,
    n_spurions=0,
    dead_tube_fraction=0.0,
    counts_at_peak=1e9,  # counting noise far below everything else
)


def parts(full: ExperimentSettings) -> dict[str, ExperimentSettings]:
    """The experiment model with one part at a time switched on, and all of it."""
    base = ExperimentSettings(**NOTHING)
    keep = dataclasses.asdict(full)
    return {
        "counting noise": dataclasses.replace(base, counts_at_peak=full.counts_at_peak),
        "background, subtracted with error": dataclasses.replace(
            base,
            **{k: keep[k] for k in ("background_q2", "background_flat", "background_elastic")},
            background_error=full.background_error,
        ),
        "spurions": dataclasses.replace(
            base, n_spurions=full.n_spurions, spurion_amplitude=full.spurion_amplitude
        ),
        "dead tubes": dataclasses.replace(base, dead_tube_fraction=full.dead_tube_fraction),
        "all of it (the pseudo-experiment)": full,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("results/demo"))
    parser.add_argument("--config", type=Path, default=Path("config/demo.yaml"))
    parser.add_argument("--realisations", type=int, default=10)
    args = parser.parse_args()
    settings = spectrum_settings(run_config(args.config))
    spec = get_model("goodenough")
    uncovered = settings.uncovered(spec.lattice_ab)
    calc = SpectrumCalculator(spec, settings.spectrum, uncovered)
    unconvolved, convolved = calc.pair(np.array(spec.best_fit))
    sets = {"noiseless unconvolved": unconvolved[None], "noiseless convolved": convolved[None]}
    for name, experiment in parts(settings.experiment).items():
        sets[name] = np.stack(
            [
                make_experiment_like(
                    convolved, settings.layout, uncovered, np.random.default_rng(i), experiment
                )
                for i in range(args.realisations)
            ]
        )
    exp2sim = load_generator(args.run / "gan2d" / "selected.pt", "exp2sim")
    print(f"run {args.run}; Goodenough best fit; [Dimer | Goodenough] mean kernels")
    for trained in ("unconvolved", "convolved"):
        duq = load_duq(args.run / "duq" / f"{trained}.pt", expected_shape=convolved.shape)
        for name, spectra in sets.items():
            for translation in ("raw", "GAN-deconvolved"):
                if translation != "raw" and name == "noiseless unconvolved":
                    continue
                x = spectra if translation == "raw" else translate_spectra(exp2sim, spectra)
                kernels = classify(duq, x).kernels
                wins = int(np.sum(kernels.argmax(axis=1) == 1))
                mean = "[{:.2f} | {:.2f}]".format(*kernels.mean(axis=0))
                print(f"trained on {trained:11s}  {name:35s} {translation:15s} "
                      f"Goodenough {wins:2d} of {len(x):2d}  {mean}")  # fmt: skip


if __name__ == "__main__":
    main()
