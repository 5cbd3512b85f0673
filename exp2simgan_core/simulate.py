"""Simulation settings from the config, stable random draws of a model, and their streams.

Seeding: shard ``i`` of model class or reference set ``name`` draws from the named stream
``streams.rng(seed, "simulate/<name>", i)`` (``stream_rng``), so one config seed fixes every draw,
a rerun is bitwise identical, and different shards or classes never share a random stream. The
files are written by ``exp2simgan_core.stages.simulate``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from . import streams
from .physics.coverage import uncovered_mask, uncovered_volume
from .physics.experiment import ExperimentSettings
from .physics.layout import Layout2D, Layout3D
from .physics.lswt import UnstableStructureError
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


def _stable_draws(calc: SpectrumCalculator, n: int, rng: np.random.Generator, evaluate, progress):
    """``n`` draws of ``calc.model`` for which ``evaluate(params)`` raises no
    UnstableStructureError: (params (n, p), the n results, number of unstable draws)."""
    params, results, rejected = [], [], 0
    bar = tqdm(total=n, desc=f"simulate {calc.model.name}", disable=not progress, unit="spectrum")
    while len(params) < n:
        if rejected > MAX_DRAWS_PER_SPECTRUM * n:
            raise RuntimeError(
                f"{calc.model.name}: {rejected} unstable draws for {len(params)} stable ones; "
                "the parameter ranges hardly ever give a stable ground state"
            )
        p = calc.model.sample(rng)
        try:
            results.append(evaluate(p))
        except UnstableStructureError as err:
            rejected += 1
            log.info("%s: rejected unstable draw %s (%s)", calc.model.name, np.round(p, 3), err)
            continue
        params.append(p)
        bar.update()
    bar.close()
    return np.array(params), results, rejected


def draw_unconvolved(calc: SpectrumCalculator, rng: np.random.Generator):
    """The first stable draw of ``draw_spectra(calc, 1, rng)`` (the same parameters: stability is
    judged by ``calc.check_stable``, the same test at the same wavevectors) and its unconvolved
    spectrum alone, from spin waves at the pixel centres (no fine grid is diagonalised).

    Returns (params (p,), unconvolved of the layout's shape).
    """

    def unconvolved_alone(p):
        calc.check_stable(p)
        return calc.unconvolved(p)

    params, spectra, _ = _stable_draws(calc, 1, rng, unconvolved_alone, progress=False)
    return params[0], spectra[0]


def draw_spectra(calc: SpectrumCalculator, n: int, rng: np.random.Generator, progress: bool = True):
    """``n`` stable random draws of ``calc.model``.

    Returns (params (n, p), unconvolved (n, ...), convolved (n, ...), number of unstable draws).
    """
    params, pairs, rejected = _stable_draws(calc, n, rng, calc.pair, progress)
    unconv, conv = zip(*pairs, strict=True)
    return params, np.stack(unconv), np.stack(conv), rejected
