"""Bulk generation of spectrum data sets: sharded training pairs and the reference sets.

Seeding: shard ``i`` of model class or reference set ``name`` draws from the named stream
``streams.rng(seed, "simulate/<name>", i)``, so one config seed fixes every draw, a rerun is
bitwise identical, and different shards or classes never share a random stream.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from . import streams
from .io import check_writable, write_h5
from .physics.experiment import ExperimentSettings, make_experiment_like
from .physics.instrument import uncovered_mask, uncovered_volume
from .physics.layout import Layout2D, Layout3D
from .physics.lswt import UnstableStructureError
from .physics.models import NEGATIVE_CONTROL_MODELS, get_model
from .physics.spectra import SpectrumCalculator, SpectrumSettings
from .vocabulary import CLASSES

log = logging.getLogger(__name__)

REFERENCE_KINDS = ("experiment", "negative_control", "rb2mnf4")
MAX_DRAWS_PER_SPECTRUM = 50  # give up when almost every draw of the ranges is unstable


@dataclass(frozen=True)
class SimulationSettings:
    """Spectrum computation plus the experiment model used for the reference sets."""

    spectrum: SpectrumSettings = SpectrumSettings()
    experiment: ExperimentSettings = ExperimentSettings()

    @property
    def layout(self) -> Layout2D | Layout3D:
        return self.spectrum.layout

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> SimulationSettings:
        """From the config's ``simulation.spectrum`` mapping; unknown keys raise ValueError.

        Keys: convention, oversample, energy_width_factor, q_resolution, layout (Layout2D
        fields, or Layout3D fields plus ``dims: 3``), experiment (ExperimentSettings fields).
        """
        section = dict(section)
        layout_cfg = dict(section.pop("layout", {}))
        experiment_cfg = dict(section.pop("experiment", {}))
        layout_cls = Layout3D if layout_cfg.pop("dims", 2) == 3 else Layout2D
        layout = _build(layout_cls, layout_cfg, "layout")
        spectrum = _build(SpectrumSettings, {**section, "layout": layout}, "spectrum")
        return cls(spectrum, _build(ExperimentSettings, experiment_cfg, "experiment"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible record of every setting (stored with each data file)."""
        out = dataclasses.asdict(self)
        out["spectrum"]["layout"]["dims"] = 3 if isinstance(self.layout, Layout3D) else 2
        return json.loads(json.dumps(out))

    def uncovered(self, lattice_ab: tuple[float, float]) -> np.ndarray:
        """Detector-coverage mask of the layout for a sample of this in-plane cell (True = none)."""
        if isinstance(self.layout, Layout3D):
            return uncovered_volume(self.layout, lattice_ab=lattice_ab)
        return uncovered_mask(self.layout, lattice_ab=lattice_ab)


def _build(cls, values: Mapping[str, Any], where: str):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown {where} key(s) {unknown}; allowed: {sorted(names)}")
    values = {
        k: tuple(float(x) for x in v) if isinstance(v, list) else v for k, v in values.items()
    }
    return cls(**values)


def stream_rng(seed: int, name: str, shard: int) -> np.random.Generator:
    """Generator of shard ``shard`` of model class or reference set ``name``."""
    if name not in CLASSES + REFERENCE_KINDS:
        raise ValueError(f"no simulation stream {name!r}; known: {CLASSES + REFERENCE_KINDS}")
    return streams.rng(seed, f"simulate/{name}", shard)


def draw_spectra(calc: SpectrumCalculator, n: int, rng: np.random.Generator, progress: bool = True):
    """``n`` stable random draws of ``calc.model``.

    Returns (params (n, p), unconvolved (n, ...), convolved (n, ...), number of unstable draws).
    """
    params, unconv, conv, rejected = [], [], [], 0
    bar = tqdm(total=n, desc=f"simulate {calc.model.name}", disable=not progress, unit="spectrum")
    while len(params) < n:
        if rejected > MAX_DRAWS_PER_SPECTRUM * n:
            raise RuntimeError(
                f"{calc.model.name}: {rejected} unstable draws for {len(params)} stable ones; "
                "the parameter ranges hardly ever give a stable ground state"
            )
        p = calc.model.sample(rng)
        try:
            u, c = calc.pair(p)
        except UnstableStructureError as err:
            rejected += 1
            log.info("%s: rejected unstable draw %s (%s)", calc.model.name, np.round(p, 3), err)
            continue
        params.append(p)
        unconv.append(u)
        conv.append(c)
        bar.update()
    bar.close()
    return np.array(params), np.stack(unconv), np.stack(conv), rejected


def simulate_shard(
    model: str,
    n_spectra: int,
    seed: int,
    shard: int,
    settings: SimulationSettings,
    out_path: str | Path,
    progress: bool = True,
) -> None:
    """Write ``n_spectra`` (unconvolved, convolved) pairs of a training class to ``out_path``.

    Datasets: 'unconvolved', 'convolved' (n, *layout.shape) float32, NaN where uncovered;
    'params' (n, 6) float64 in meV, in the order of the attribute 'param_names'.
    """
    if model not in CLASSES:
        raise ValueError(f"unknown training model {model!r}; choose one of {CLASSES}")
    if n_spectra < 1:
        raise ValueError(f"n_spectra must be >= 1, got {n_spectra}")
    check_writable(out_path)
    spec = get_model(model)
    calc = SpectrumCalculator(spec, settings.spectrum, settings.uncovered(spec.lattice_ab))
    params, unconv, conv, rejected = draw_spectra(
        calc, n_spectra, stream_rng(seed, model, shard), progress
    )
    attrs = _provenance(settings, seed, shard, model=model, param_names=list(spec.param_names))
    write_h5(
        out_path,
        {"unconvolved": unconv, "convolved": conv, "params": params},
        {**attrs, "n_rejected_unstable": rejected},
    )


def simulate_reference_set(
    kind: str,
    n_spectra: int,
    seed: int,
    settings: SimulationSettings,
    out_path: str | Path,
    progress: bool = True,
) -> None:
    """Write an experiment-like reference set: dataset 'spectra' (n, *layout.shape) float32.

    * experiment: the Goodenough best fit, convolved, through the experiment model (the embedded
      stand-in for the measured PCSMO spectrum; every spectrum is a new counting-noise draw);
    * negative_control: each Ei row from another Hamiltonian (FM chain, square-lattice AFM,
      alternating, random parameters), through the same experiment model;
    * rb2mnf4: Rb2MnF4 around its published exchanges, through the experiment model.
    """
    if kind not in REFERENCE_KINDS:
        raise ValueError(f"unknown reference set {kind!r}; choose one of {REFERENCE_KINDS}")
    if n_spectra < 1:
        raise ValueError(f"n_spectra must be >= 1, got {n_spectra}")
    if isinstance(settings.layout, Layout3D):
        raise ValueError("reference sets are defined for the 2D layout")
    check_writable(out_path)
    rng = stream_rng(seed, kind, 0)
    clean, lattice_ab = _clean_reference(kind, n_spectra, rng, settings, progress)
    uncovered = settings.uncovered(lattice_ab)
    spectra = np.stack(
        [
            make_experiment_like(
                c, settings.layout, uncovered, rng, settings.experiment, lattice_ab
            )
            for c in clean
        ]
    )
    write_h5(
        out_path, {"spectra": spectra.astype(np.float32)}, _provenance(settings, seed, 0, kind=kind)
    )


def _clean_reference(kind, n, rng, settings, progress):
    """Noise-free convolved spectra of a reference set and the in-plane cell of their axes."""
    spectrum = settings.spectrum
    if kind == "experiment":
        spec = get_model("goodenough")
        _, conv = SpectrumCalculator(spec, spectrum).pair(spec.best_fit)
        return [conv] * n, spec.lattice_ab
    if kind == "rb2mnf4":
        calc = SpectrumCalculator(get_model("rb2mnf4"), spectrum)
        return list(draw_spectra(calc, n, rng, progress)[2]), calc.model.lattice_ab
    calcs = [SpectrumCalculator(get_model(m), spectrum) for m in NEGATIVE_CONTROL_MODELS]
    layout, out = settings.layout, []
    n_pix, n_rows = layout.n_pix, len(layout.ei_mev)
    for i in tqdm(range(n), desc="simulate negative control", disable=not progress):
        rows = []
        for r in range(n_rows):  # Ei row r from model (i + r) mod 2, a fresh draw each
            conv = draw_spectra(calcs[(i + r) % len(calcs)], 1, rng, False)[2][0]
            rows.append(conv[r * n_pix : (r + 1) * n_pix])
        out.append(np.concatenate(rows))
    # the experiment is measured in the PCSMO orientation: coverage in the PCSMO cell
    return out, get_model("goodenough").lattice_ab


def _provenance(settings: SimulationSettings, seed: int, shard: int, **extra) -> dict[str, Any]:
    return {"seed": int(seed), "shard": int(shard), "settings": settings.to_dict(), **extra}
