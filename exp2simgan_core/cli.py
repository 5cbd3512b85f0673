"""The ``exp2simgan`` command line.

    exp2simgan simulate --model goodenough --params=-11.39,1.50,-1.35,1.50,0.88,0.074 \\
        --kind convolved --out x.h5
    exp2simgan translate --checkpoint results/demo/gan2d/translator.pt --direction exp2sim \\
        --in experiment.h5 --out experiment_exp2sim.h5
    exp2simgan classify --checkpoint results/demo/duq/unconvolved.pt --in spectrum.npy
    exp2simgan check-config config/my_run.yaml
    exp2simgan plan config/demo.yaml
    exp2simgan applicability --checkpoint results/demo/gan2d/selected.pt \\
        --train results/demo/data/train.h5 --held-out results/demo/data/test.h5 \\
        --far results/demo/data/reference/digits.h5 results/demo/data/reference/photos.h5 \\
        --in spectrum.npy
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from . import streams
from .dataset import check_spectra
from .io import DataFileError, check_writable, read_h5, read_torch_file, write_h5
from .physics.layout import Layout2D, Layout3D
from .physics.models import MODELS, get_model
from .physics.spectra import (
    CONVENTIONS,
    UNCONVOLVED,
    SpectrumCalculator,
    SpectrumSettings,
)
from .simulate import SimulationSettings, draw_spectra, draw_unconvolved
from .user_spectra import load_user_spectrum
from .util import DEVICES, resolve_device
from .version import code_version
from .vocabulary import DIRECTIONS, DOMAINS, EXP2SIM

SPECTRUM = SpectrumSettings()  # the defaults of simulate's options


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
    p.add_argument("--kind", choices=DOMAINS, default="convolved")
    p.add_argument("--out", required=True, help="output HDF5 file (dataset 'spectra')")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the random draw when --params is absent"
    )
    p.add_argument("--layout", choices=("2d", "3d"), default="2d")
    p.add_argument("--convention", choices=CONVENTIONS, default=SPECTRUM.convention)
    p.add_argument(
        "--n-pix", type=int,
        help=f"pixels per in-plane axis (2d: {Layout2D().n_pix}, 3d: {Layout3D().n_pix})",
    )  # fmt: skip
    p.add_argument(
        "--ei", type=float, help=f"3d only: incident energy, meV (default {Layout3D().ei_mev})"
    )
    p.add_argument(
        "--chopper-hz", type=float,
        help=f"3d only: Fermi chopper frequency, Hz (default {Layout3D().chopper_hz})",
    )  # fmt: skip
    p.add_argument("--oversample", type=int, default=SPECTRUM.oversample)
    p.add_argument(
        "--unconvolved",
        choices=UNCONVOLVED,
        default=SPECTRUM.unconvolved,
        help="definition of the unconvolved spectrum (bin_centre: the paper's)",
    )
    p.add_argument(
        "--intrinsic-fwhm-mev",
        type=float,
        default=SPECTRUM.intrinsic_fwhm_mev,
        help="mode width of the bin_centre spectrum, meV",
    )
    p.add_argument(
        "--device", choices=DEVICES, default="cpu",
        help="where the spin waves and spectra are computed, but the Q blur and the layout "
        "(auto: CUDA when present)",
    )  # fmt: skip
    p.set_defaults(func=_simulate)


def _check_output(out: str | Path, *inputs: str | Path) -> None:
    """Refuse an output that is not an HDF5 name or would overwrite one of the ``inputs``."""
    out = Path(out)
    for path in inputs:
        if out.resolve() == Path(path).resolve():
            raise ValueError(f"--out {out} is an input of this command; write elsewhere")
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise ValueError(f"--out {out}: the output is an HDF5 file; name it .h5 or .hdf5")
    check_writable(out)


def _simulate(args: argparse.Namespace) -> None:
    _check_output(args.out)
    spec = get_model(args.model)
    given = {"n_pix": args.n_pix, "ei_mev": args.ei, "chopper_hz": args.chopper_hz}
    given = {k: v for k, v in given.items() if v is not None}
    if args.layout == "2d" and set(given) - {"n_pix"}:
        raise ValueError(
            "--ei and --chopper-hz set the 3D layout's incident energy; the 2D layout has the "
            "paper's six (add --layout 3d)"
        )
    layout = Layout2D(**given) if args.layout == "2d" else Layout3D(**given)
    settings = SimulationSettings(
        SpectrumSettings(
            layout=layout,
            convention=args.convention,
            oversample=args.oversample,
            unconvolved=args.unconvolved,
            intrinsic_fwhm_mev=args.intrinsic_fwhm_mev,
            device=args.device,
        )
    )
    calc = SpectrumCalculator(spec, settings.spectrum, settings.uncovered(spec.lattice_ab))
    rng = streams.rng(args.seed, "cli/simulate")
    if args.params is None and args.kind == "unconvolved":  # the same draw as for convolved
        params, spectrum = draw_unconvolved(calc, rng)
    elif args.params is None:  # a stable random draw from the training ranges
        params, _, conv, _ = draw_spectra(calc, 1, rng, progress=False)
        params, spectrum = params[0], conv[0]
    elif args.kind == "unconvolved":  # spin waves at the pixel centres only
        params = spec.check_params(args.params)
        spectrum = calc.unconvolved(params)
    else:
        params = spec.check_params(args.params)
        spectrum = calc.pair(params)[1]
    attrs = {
        "model": spec.name,
        "kind": args.kind,
        "param_names": list(spec.param_names),
        "seed": args.seed,
        "settings": settings.to_dict(),
    }
    write_h5(args.out, {"spectra": spectrum[None], "params": np.asarray(params)[None]}, attrs)
    print(f"wrote {args.out}: {args.kind} {spec.name} spectrum {spectrum.shape}")


def _add_translate(sub) -> None:
    p = sub.add_parser("translate", help="translate spectra with a trained Exp2SimGAN generator")
    p.add_argument("--checkpoint", required=True, help="checkpoint file (.pt) of a GAN run")
    p.add_argument("--direction", required=True, choices=tuple(DIRECTIONS))
    p.add_argument(
        "--in",
        dest="inp",
        required=True,
        help="project HDF5 ('spectra', else 'convolved'/'unconvolved' by direction) or a .npy "
        "spectrum (NaN or 0 = uncovered)",
    )
    p.add_argument("--out", required=True, help="output HDF5 file (dataset 'spectra')")
    p.add_argument("--device", choices=DEVICES, default="cpu", help="auto: CUDA if present")
    p.set_defaults(func=_translate)


def _layout_of(spectrum_section: object) -> Layout2D | None:
    """The 2D layout of a recorded ``simulation.spectrum`` mapping; None without one (or 3D)."""
    try:
        layout = SimulationSettings.from_config(spectrum_section).layout  # type: ignore[arg-type]
    except (TypeError, ValueError, AttributeError):
        return None
    return layout if isinstance(layout, Layout2D) else None


def _recorded_layout(
    spectrum_section: object, shape: tuple[int, ...]
) -> Layout2D | tuple[int, ...]:
    """The run's 2D layout from its recorded ``simulation.spectrum`` mapping, if it has ``shape``.

    With a layout, a spectrum of the paper's 240 x 400 layout is rebinned into the run's
    (``user_spectra.load_user_spectrum``); without one (no record, a 3D run) only ``shape`` is
    accepted.
    """
    layout = _layout_of(spectrum_section)
    return layout if layout is not None and layout.shape == tuple(shape) else shape


def _checkpoint_spectrum_section(path: str | Path) -> object:
    """The ``simulation.spectrum`` section a checkpoint's run recorded, or None."""
    config = read_torch_file(path, "checkpoint").get("config")
    return (config or {}).get("simulation", {}).get("spectrum")


def _read_spectra(
    path: Path, layout: Layout2D | tuple[int, ...]
) -> tuple[np.ndarray, dict[str, object]]:
    """(n, *shape) spectra from a project HDF5 ('spectra') or one .npy spectrum, and the
    attributes recording a rebinning of the .npy one into ``layout`` ({} if none)."""
    if path.suffix.lower() == ".npy":
        spectrum, attrs = load_user_spectrum(path, layout)
        return spectrum[np.newaxis], attrs
    shape = layout.shape if isinstance(layout, Layout2D) else layout
    spectra = read_h5(path, required=("spectra",), trailing_shape=shape).datasets["spectra"]
    try:
        check_spectra(spectra, dims=len(shape))
    except ValueError as err:
        raise DataFileError(f"{path}: {err}") from None
    return spectra, {}


def _read_translate_input(
    path: Path, direction: str, layout: Layout2D | None
) -> tuple[np.ndarray, dict[str, object]]:
    """(n, *S) float32 spectra, NaN = uncovered, from a project HDF5 or a single .npy spectrum.

    A .npy spectrum is read in the ``layout`` the checkpoint's run recorded (rebinned from
    240 x 400 into it), or in its own shape when the run recorded none (``layout`` None); an
    HDF5 file's spectra must have the recorded layout's shape.
    """
    if path.suffix.lower() == ".npy":
        if layout is not None:
            return _read_spectra(path, layout)
        if not path.is_file():
            raise DataFileError(f"{path}: no such file")
        try:
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
        except (ValueError, OSError, EOFError, AttributeError) as err:  # .npz: no .shape
            raise DataFileError(f"{path}: not a readable .npy array: {err}") from None
        return _read_spectra(path, shape)
    from .dataset import spectra_for

    spectra = spectra_for(path, direction)
    if layout is not None and spectra.shape[1:] != layout.shape:
        raise DataFileError(
            f"{path}: spectra of shape {spectra.shape[1:]}, but the checkpoint's run used "
            f"{layout.shape}; translate spectra of that layout (a .npy spectrum in the paper's "
            "240 x 400 is rebinned into it)"
        )
    return spectra, {}


def _translate(args: argparse.Namespace) -> None:
    from .gan.checkpoint import load_generator  # torch loads only for this command
    from .gan.translate import translate_spectra

    _check_output(args.out, args.inp, args.checkpoint)
    source = Path(args.inp)
    loaded = load_generator(Path(args.checkpoint), args.direction)
    layout = _layout_of(_checkpoint_spectrum_section(args.checkpoint))  # a generator takes any size
    spectra, rebin_attrs = _read_translate_input(source, args.direction, layout)
    try:
        loaded.check_input(spectra)
    except ValueError as err:
        raise DataFileError(f"{source}: {err}") from None
    translated = translate_spectra(loaded, spectra, device=resolve_device(args.device))
    attrs = {
        "direction": args.direction,
        "checkpoint": str(Path(args.checkpoint).resolve()),
        "source": str(source.resolve()),
        "domain": loaded.output_domain,
        **rebin_attrs,
    }
    write_h5(args.out, {"spectra": translated}, attrs)
    print(f"wrote {args.out}: {args.direction} translation of {translated.shape}")


def _add_classify(sub) -> None:
    p = sub.add_parser("classify", help="DUQ kernel values [Dimer | Goodenough] as JSON")
    p.add_argument("--checkpoint", required=True, help="DUQ checkpoint (.pt) of a run")
    p.add_argument(
        "--in",
        dest="inp",
        required=True,
        help="project HDF5 ('spectra') or a .npy spectrum in the run's layout or the paper's "
        "240 x 400, rebinned (NaN or 0 = uncovered)",
    )
    p.add_argument("--device", choices=DEVICES, default="cpu", help="auto: CUDA if present")
    p.set_defaults(func=_classify)


def _classify(args: argparse.Namespace) -> None:
    from .duq import classify, load_duq  # torch loads only for this command

    loaded = load_duq(args.checkpoint)
    layout = _recorded_layout(_checkpoint_spectrum_section(args.checkpoint), loaded.input_shape)
    spectra, rebin_attrs = _read_spectra(Path(args.inp), layout)
    rebinned = {"rebinned_from": rebin_attrs["rebinned_from"]} if rebin_attrs else {}
    out = classify(loaded, spectra, device=resolve_device(args.device))
    result = [
        {
            **{f"k_{c}": float(k) for c, k in zip(loaded.class_names, kernels, strict=True)},
            "predicted": loaded.class_names[int(p)],
            "certainty": float(c),
            **rebinned,
        }
        for kernels, p, c in zip(out.kernels, out.predicted, out.certainty, strict=True)
    ]
    print(json.dumps(result, indent=2))


def _add_applicability(sub) -> None:
    p = sub.add_parser(
        "applicability", help="JSON verdict: how far spectra lie from the GAN's training data"
    )
    p.add_argument("--checkpoint", required=True, help="selected GAN checkpoint (.pt)")
    p.add_argument("--train", required=True, help="the run's train.h5")
    p.add_argument("--held-out", required=True, help="the run's test.h5 (calibrates the zones)")
    p.add_argument(
        "--far", required=True, nargs="+", help="far-away sets (calibrate the zones): digits.h5 ..."
    )
    p.add_argument("--in", dest="inp", required=True, help="project HDF5 ('spectra') or .npy")
    p.add_argument("--direction", choices=tuple(DIRECTIONS), default=EXP2SIM)
    p.add_argument(
        "--configfile", nargs="+", type=Path, default=(),
        help="the run's config files, as for snakemake --configfile: its applicability settings "
        "and seed (default: config/config.yaml's)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=None, help="instead of the config's seed")
    p.add_argument("--device", choices=DEVICES, default="cpu", help="auto: CUDA if present")
    p.set_defaults(func=_applicability)


def _applicability(args: argparse.Namespace) -> None:
    from .applicability import ApplicabilitySettings
    from .config import run_config
    from .stages.applicability import user_verdict

    config = run_config(*args.configfile)
    seed = config["seed"] if args.seed is None else args.seed
    rating = ApplicabilitySettings.from_config(config["applicability"], seed)
    train = read_h5(args.train, required=("convolved",))
    shape = train.datasets["convolved"].shape[1:]
    recorded = _layout_of(_checkpoint_spectrum_section(args.checkpoint))
    if recorded is not None and recorded.shape != shape:
        raise DataFileError(
            f"{args.train}: spectra of shape {shape}, but the checkpoint's run used "
            f"{recorded.shape}: give the training file of the checkpoint's run"
        )
    settings = train.attrs.get("settings")
    layout = _recorded_layout(
        settings.get("spectrum") if isinstance(settings, dict) else None, shape
    )
    spectra, rebin_attrs = _read_spectra(Path(args.inp), layout)
    result = user_verdict(
        args.checkpoint, args.train, args.held_out, args.far, spectra,
        rating, args.direction, args.device,
    )  # fmt: skip
    if rebin_attrs:
        result["rebinned_from"] = rebin_attrs["rebinned_from"]
    print(json.dumps(result, indent=2))


def _add_check_config(sub) -> None:
    p = sub.add_parser(
        "check-config",
        help="check workflow config files before a run: laid over config/config.yaml in order, "
        "as --configfile lays them",
    )
    p.add_argument("files", nargs="+", type=Path, help="YAML config file(s), as for --configfile")
    p.set_defaults(func=_check_config)


def _check_config(args: argparse.Namespace) -> None:
    from .config import run_config

    run_config(*args.files)
    print(f"{' + '.join(map(str, args.files))}: valid")


def _add_plan(sub) -> None:
    p = sub.add_parser(
        "plan",
        help="jobs, CPU-hours and GPU-hours per stage of a preset, from measured throughputs",
    )
    p.add_argument("files", nargs="+", type=Path, help="config file(s), as for --configfile")
    p.add_argument(
        "--device", choices=("cpu", "cuda"), default="cpu",
        help="where the GAN and DUQ rates are measured (the simulation's on the CPU, as its "
        "jobs run)",
    )  # fmt: skip
    p.add_argument(
        "--record", type=Path, default=None,
        help="throughput record (JSON) to read, or to write after measuring "
        "(default: results/throughput/<workload>-<device>.json)",
    )  # fmt: skip
    p.set_defaults(func=_plan)


def _plan(args: argparse.Namespace) -> None:
    from .config import run_config
    from .plan import load_or_measure, plan_rows, plan_table, workload_key

    config = run_config(*args.files)
    record = (
        args.record or Path("results/throughput") / f"{workload_key(config)}-{args.device}.json"
    )
    rates = load_or_measure(config, record, args.device, progress=True)
    print(f"plan for {', '.join(map(str, args.files))} (preset {config['preset']}), "
          f"throughput record {record}")  # fmt: skip
    print(plan_table(plan_rows(config, rates), rates))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exp2simgan", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument(
        "--version", action="version", version=f"exp2simgan {code_version()}",
        help="the release and, in a git checkout, the commit (.dirty if modified)",
    )  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    _add_simulate(sub)
    _add_translate(sub)
    _add_classify(sub)
    _add_applicability(sub)
    _add_check_config(sub)
    _add_plan(sub)
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
