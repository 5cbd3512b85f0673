"""Agreement of the simulator with the authors' Horace/Tobyfit image of the Goodenough best fit.

    python benchmarks/reference_agreement.py [--shared ../shared/data]

Prints Pearson r over covered pixels, overall and per Ei row, for both conventions, for the variant
of the ``horace`` convention that keeps the kinematic L for twin 1, for the Dimer best fit, and the
correlation between our own Goodenough and Dimer best fits.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.physics.models import MODELS
from exp2simgan_core.physics.spectra import SpectrumCalculator, SpectrumSettings


def correlations(image, ref, uncovered) -> tuple[float, list[float]]:
    keep = ~uncovered
    rows = [
        np.corrcoef(image[r : r + 40][keep[r : r + 40]], ref[r : r + 40][keep[r : r + 40]])[0, 1]
        for r in range(0, 240, 40)
    ]
    return float(np.corrcoef(image[keep], ref[keep])[0, 1]), rows


def convolved(model: str, convention: str, twin1_kinematic_l: bool = False) -> np.ndarray:
    spec = MODELS[model]
    calc = SpectrumCalculator(spec, SpectrumSettings(convention=convention))
    if twin1_kinematic_l:
        calc.twins = (dataclasses.replace(calc.twins[0], kinematic_l=True), *calc.twins[1:])
    return calc.pair(spec.best_fit)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--shared", type=Path, default=default)
    args = parser.parse_args()
    ref = np.load(args.shared / "horace_bestfit_goodenough.npy")
    uncovered = np.load(args.shared / "maps_uncovered_mask.npy")
    images = {
        "goodenough, physical": convolved("goodenough", "physical"),
        "goodenough, horace": convolved("goodenough", "horace"),
        "goodenough, horace but kinematic L for twin 1": convolved("goodenough", "horace", True),
        "dimer, physical": convolved("dimer", "physical"),
        "dimer, horace": convolved("dimer", "horace"),
    }
    print("Pearson r with horace_bestfit_goodenough.npy over covered pixels (rows: Ei 25..140)")
    for name, image in images.items():
        r, rows = correlations(image, ref, uncovered)
        print(f"  {name:48s} r = {r:.3f}  rows {np.round(rows, 3).tolist()}")
    for convention in ("physical", "horace"):
        r, _ = correlations(
            images[f"goodenough, {convention}"], images[f"dimer, {convention}"], uncovered
        )
        print(f"our Goodenough vs our Dimer best fit ({convention}): r = {r:.3f}")
    # The model is symmetric under H -> -H: the reference's correlation with its own mirror image
    # measures its Monte Carlo noise; a noiseless simulation can reach at most sqrt of it.
    panels = Layout2D().split(np.where(uncovered, np.nan, ref))
    mirrored = Layout2D().assemble(panels[..., ::-1, :])
    keep = np.isfinite(mirrored) & ~uncovered
    r_self = np.corrcoef(ref[keep], mirrored[keep])[0, 1]
    print(f"reference vs its H -> -H mirror: r = {r_self:.3f}; noise ceiling for any noiseless")
    print(f"  simulation: r <= {np.sqrt(r_self):.3f}; two noisy images: r <= {r_self:.3f}")


if __name__ == "__main__":
    main()
