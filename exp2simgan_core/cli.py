"""The ``exp2simgan`` command line.

    exp2simgan simulate --model goodenough --params=-11.39,1.50,-1.35,1.50,0.88,0.074 \\
        --kind convolved --out x.h5
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import numpy as np

from .io import check_writable, write_h5
from .physics.layout import Layout2D, Layout3D
from .physics.models import MODELS, get_model
from .physics.spectra import CONVENTIONS, SpectrumCalculator, SpectrumSettings
from .simulate import SimulationSettings, draw_spectra

KINDS = ("unconvolved", "convolved")


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None


def _add_simulate(sub) -> None:
    p = sub.add_parser("simulate", help="simulate one spectrum of a spin-wave model")
    p.add_argument("--model", required=True, choices=sorted(MODELS))
    p.add_argument(
        "--params", type=_floats, help="exchanges in meV (default: a seeded random draw)"
    )
    p.add_argument("--kind", choices=KINDS, default="convolved")
    p.add_argument("--out", required=True, help="output HDF5 file (dataset 'spectra')")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the random draw when --params is absent"
    )
    p.add_argument("--layout", choices=("2d", "3d"), default="2d")
    p.add_argument("--convention", choices=CONVENTIONS, default="physical")
    p.add_argument("--n-pix", type=int, help="pixels per in-plane axis (2d: 40, 3d: 60)")
    p.add_argument("--ei", type=float, default=140.0, help="3d only: incident energy, meV")
    p.add_argument(
        "--chopper-hz", type=float, default=400.0, help="3d only: Fermi chopper frequency"
    )
    p.add_argument("--oversample", type=int, default=3)
    p.set_defaults(func=_simulate)


def _simulate(args: argparse.Namespace) -> None:
    check_writable(args.out)
    spec = get_model(args.model)
    if args.layout == "2d":
        layout = Layout2D(n_pix=args.n_pix or 40)
    else:
        layout = Layout3D(ei_mev=args.ei, chopper_hz=args.chopper_hz, n_pix=args.n_pix or 60)
    settings = SimulationSettings(
        SpectrumSettings(layout=layout, convention=args.convention, oversample=args.oversample)
    )
    calc = SpectrumCalculator(spec, settings.spectrum, settings.uncovered(spec.lattice_ab))
    if args.params is None:  # a stable random draw from the training ranges
        drawn = draw_spectra(calc, 1, np.random.default_rng(args.seed), progress=False)
        params, unconv, conv = (x[0] for x in drawn[:3])
    else:
        params = spec.check_params(args.params)
        unconv, conv = calc.pair(params)
    spectrum = conv if args.kind == "convolved" else unconv
    attrs = {
        "model": spec.name,
        "kind": args.kind,
        "param_names": list(spec.param_names),
        "seed": args.seed,
        "settings": settings.to_dict(),
    }
    write_h5(args.out, {"spectra": spectrum[None], "params": np.asarray(params)[None]}, attrs)
    print(f"wrote {args.out}: {args.kind} {spec.name} spectrum {spectrum.shape}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exp2simgan", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_simulate(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    try:
        args.func(args)
    except (ValueError, OSError) as err:
        print(f"exp2simgan {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
