"""Speed of the spectrum simulator: seconds per 240 x 400 spectrum and LSWT evaluations per second.

    python benchmarks/simulate.py [--repeats 3] [--device auto|cpu|cuda] [--backend numpy|torch]
                                  [--draws 20]

The last rows draw ``--draws`` stable spectra of each class as a simulation job of the demo does
(config/demo.yaml's spectrum settings, unstable draws rejected and counted): CPU-seconds of this
process per kept pair, the figure that sets the demo's simulation time.

Goals (2 CPU cores): unconvolved <= 10 s, convolved <= 60 s per spectrum. The paper's MATLAB
pipeline took about 8 CPU-minutes per unconvolved and 720 CPU-minutes per convolved image.
On a GPU the goal is 10 convolved pairs per second at 240 x 400. ``--backend`` picks the arrays
(default: numpy on the CPU, torch on CUDA; torch on the CPU is the CUDA path's code).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from exp2simgan_core.config import run_config
from exp2simgan_core.physics.arrays import BACKENDS
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
    parser.add_argument("--backend", choices=BACKENDS, help="default: numpy on CPU, torch on CUDA")
    parser.add_argument("--draws", type=int, default=20, help="demo draws per class")
    args = parser.parse_args()
    device, backend = resolve_device(args.device), args.backend
    spec = MODELS["goodenough"]
    rng = np.random.default_rng(0)
    params = spec.best_fit
    print(
        f"cores visible: {os.cpu_count()}, device: {device}, backend: {backend or 'default'}, "
        "model: goodenough (32 x 32 h(k))"
    )

    form = quadratic_form(spec.build(np.array(params)))
    k = rng.uniform(-1.2, 1.2, size=(4096, 3)) * [1.16, 1.15, 0.0]
    t = best_of(args.repeats, lambda: colpa(hamiltonian(form, k), device, backend))
    print(f"LSWT: {len(k) / t:,.0f} wavevectors/s (build h(k) + Cholesky + eigh + T)")

    centres_only = SpectrumSettings(oversample=1, q_resolution=False, device=device)
    unconv_calc = SpectrumCalculator(spec, centres_only, backend=backend)
    t_unconv = best_of(args.repeats, lambda: unconv_calc.pair(params))
    print(
        f"unconvolved 240x400 (pixel centres, 2 twins): {t_unconv:.2f} s/spectrum "
        f"= {PAPER_UNCONVOLVED_S / t_unconv:,.0f}x the paper's 8 CPU-min"
    )
    demo = Layout2D(n_pix=16)
    demo_calc = SpectrumCalculator(
        spec, SpectrumSettings(layout=demo, device=device), backend=backend
    )
    t_demo = best_of(args.repeats, lambda: demo_calc.pair(params))
    print(f"convolved + unconvolved pair, demo 96x160, oversample 3: {t_demo:.2f} s/spectrum")
    for oversample in (3, 5):
        settings = SpectrumSettings(oversample=oversample, device=device)
        calc = SpectrumCalculator(spec, settings, backend=backend)
        t_pair = best_of(args.repeats, lambda calc=calc: calc.pair(params))
        print(
            f"convolved + unconvolved pair, oversample {oversample}: {t_pair:.2f} s/spectrum "
            f"({1 / t_pair:.2f} pairs/s) = {PAPER_CONVOLVED_S / t_pair:,.0f}x the paper's "
            "720 CPU-min"
        )
    section = run_config(DEMO)["simulation"]["spectrum"]
    demo_settings = SimulationSettings.from_config({**section, "device": device})
    for model in CLASSES:
        spec = MODELS[model]
        uncovered = demo_settings.uncovered(spec.lattice_ab)
        calc = SpectrumCalculator(spec, demo_settings.spectrum, uncovered, backend=backend)
        start = time.process_time()
        rejected = draw_spectra(calc, args.draws, np.random.default_rng(0), progress=False)[3]
        cpu = time.process_time() - start
        print(
            f"demo draws, {model}: {cpu / args.draws:.2f} CPU-s per kept pair "
            f"({args.draws} kept, {rejected} unstable rejected)"
        )


if __name__ == "__main__":
    main()
