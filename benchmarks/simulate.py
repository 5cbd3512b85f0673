"""Speed of the spectrum simulator: seconds per 240 x 400 spectrum and LSWT evaluations per second.

    python benchmarks/simulate.py [--repeats 3] [--device auto|cpu|cuda] [--draws 20]

The last rows draw ``--draws`` stable spectra of each class as a simulation job of the demo does
(config/demo.yaml's spectrum settings, unstable draws rejected and counted): CPU-seconds of this
process per kept pair, the figure that sets the demo's simulation time.

Goals (2 CPU cores): unconvolved <= 10 s, convolved <= 60 s per spectrum. The paper's MATLAB
pipeline took about 8 CPU-minutes per unconvolved and 720 CPU-minutes per convolved image.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import yaml

from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.physics.lswt import colpa, hamiltonian, quadratic_form
from exp2simgan_core.physics.models import MODELS
from exp2simgan_core.physics.spectra import SpectrumCalculator, SpectrumSettings
from exp2simgan_core.simulate import SimulationSettings, draw_spectra
from exp2simgan_core.util import DEVICES, resolve_device
from exp2simgan_core.vocabulary import CLASSES

PAPER_UNCONVOLVED_S = 8 * 60
PAPER_CONVOLVED_S = 720 * 60
DEMO = Path(__file__).resolve().parents[1] / "config" / "demo.yaml"


def best_of(repeats: int, func) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument("--draws", type=int, default=20, help="demo draws per class")
    args = parser.parse_args()
    device = resolve_device(args.device)
    spec = MODELS["goodenough"]
    rng = np.random.default_rng(0)
    params = spec.best_fit
    print(f"cores visible: {os.cpu_count()}, device: {device}, model: goodenough (32 x 32 h(k))")

    form = quadratic_form(spec.build(np.array(params)))
    k = rng.uniform(-1.2, 1.2, size=(4096, 3)) * [1.16, 1.15, 0.0]
    t = best_of(args.repeats, lambda: colpa(hamiltonian(form, k), device))
    print(f"LSWT: {len(k) / t:,.0f} wavevectors/s (build h(k) + Cholesky + eigh + T)")

    centres_only = SpectrumSettings(oversample=1, q_resolution=False, device=device)
    unconv_calc = SpectrumCalculator(spec, centres_only)
    t_unconv = best_of(args.repeats, lambda: unconv_calc.pair(params))
    print(
        f"unconvolved 240x400 (pixel centres, 2 twins): {t_unconv:.2f} s/spectrum "
        f"= {PAPER_UNCONVOLVED_S / t_unconv:,.0f}x the paper's 8 CPU-min"
    )
    demo = Layout2D(n_pix=16)
    demo_calc = SpectrumCalculator(spec, SpectrumSettings(layout=demo, device=device))
    t_demo = best_of(args.repeats, lambda: demo_calc.pair(params))
    print(f"convolved + unconvolved pair, demo 96x160, oversample 3: {t_demo:.2f} s/spectrum")
    for oversample in (3, 5):
        calc = SpectrumCalculator(spec, SpectrumSettings(oversample=oversample, device=device))
        t_pair = best_of(args.repeats, lambda calc=calc: calc.pair(params))
        print(
            f"convolved + unconvolved pair, oversample {oversample}: {t_pair:.2f} s/spectrum "
            f"= {PAPER_CONVOLVED_S / t_pair:,.0f}x the paper's 720 CPU-min"
        )
    section = yaml.safe_load(DEMO.read_text())["simulation"]["spectrum"]
    demo_settings = SimulationSettings.from_config({**section, "device": device})
    for model in CLASSES:
        spec = MODELS[model]
        calc = SpectrumCalculator(
            spec, demo_settings.spectrum, demo_settings.uncovered(spec.lattice_ab)
        )
        start = time.process_time()
        rejected = draw_spectra(calc, args.draws, np.random.default_rng(0), progress=False)[3]
        cpu = time.process_time() - start
        print(
            f"demo draws, {model}: {cpu / args.draws:.2f} CPU-s per kept pair "
            f"({args.draws} kept, {rejected} unstable rejected)"
        )


if __name__ == "__main__":
    main()
