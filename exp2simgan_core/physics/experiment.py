"""Make a simulated, resolution-convolved spectrum look like a measured MAPS data set.

The model, applied to an image of the 2D layout (rows: Ei blocks of H, columns: energy-bin
blocks of K; see ``layout.py``), in the image's own intensity units:

1. background ``B = peak * (q2 * |Q|^2 + flat + elastic * exp(-E / (elastic_width * Ei)))``
   with |Q| in 1/Angstrom (the full 3D Q, Q_z fixed by the MAPS kinematics) and ``peak`` the
   image's typical peak intensity (the ``peak_quantile`` quantile of its covered pixels);
2. a few spurions: small Gaussian spots of ``spurion_amplitude * peak`` at random pixels;
3. Poisson counting: ``counts ~ Poisson(c * live * (signal + B + spurions))`` with
   ``c = counts_at_peak / peak`` (expected counts at the typical peak) and ``live`` the share of
   the pixel's detector coverage on working tubes, back in intensity units
   ``counts / (c * live)`` (a data reduction normalises by the working detectors);
4. background subtraction as an experimenter would do it, with a smooth model whose three
   amplitudes are each off by a random factor in ``1 +- background_error``; clipped at 0;
5. NaN where the detectors do not cover (``uncovered``) and where every tube that sees a pixel
   is dead: a dead tube sits at one horizontal scattering angle, i.e. near one line of constant H
   per panel (its row moves from panel to panel with k_f); a pixel wider than a tube only loses
   counts (``tube_live_fraction``).

Everything random comes from the ``rng`` argument, so a seeded generator reproduces the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exp2simgan_core.physics.instrument import (
    LATTICE_AB,
    NEUTRON_E2K,
    TUBE_PITCH_DEG,
    kinematic_qz,
)
from exp2simgan_core.physics.layout import Layout2D

DEAD_TUBE_MAX_ANGLE_DEG = 20.0  # dead tubes are drawn in the low-angle bank, |angle| < this
LOW_ANGLE_TUBES = int(2 * DEAD_TUBE_MAX_ANGLE_DEG / TUBE_PITCH_DEG)  # vertical tubes in +-20 deg
SPURION_SIGMA_PIX = 0.7  # Gaussian sigma of a spurion spot, pixels


@dataclass(frozen=True)
class ExperimentSettings:
    """Settings of the measured-data model (intensities relative to the typical peak)."""

    counts_at_peak: float = 300.0  # expected counts at the typical peak intensity
    peak_quantile: float = 0.99  # quantile of covered pixels that defines the typical peak
    background_q2: float = 0.01  # |Q|^2 term, fraction of peak per Angstrom^-2
    background_flat: float = 0.03  # flat inelastic term, fraction of peak
    background_elastic: float = 0.5  # elastic-line tail at E = 0, fraction of peak
    elastic_width: float = 0.05  # decay energy of the elastic tail, fraction of Ei
    background_error: float = 0.15  # max relative error of each subtracted amplitude
    n_spurions: int = 3  # bright spots per image
    spurion_amplitude: float = 2.0  # spurion height, fraction of peak
    dead_tube_fraction: float = 0.02  # probability that a low-angle vertical tube is dead

    def __post_init__(self) -> None:
        positive = {"counts_at_peak": self.counts_at_peak, "elastic_width": self.elastic_width}
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"ExperimentSettings: {name} must be > 0, got {value}")
        non_negative = {
            "background_q2": self.background_q2,
            "background_flat": self.background_flat,
            "background_elastic": self.background_elastic,
            "background_error": self.background_error,
            "n_spurions": self.n_spurions,
            "spurion_amplitude": self.spurion_amplitude,
        }
        for name, value in non_negative.items():
            if not value >= 0:
                raise ValueError(f"ExperimentSettings: {name} must be >= 0, got {value}")
        if not 0 < self.peak_quantile <= 1:
            raise ValueError(
                f"ExperimentSettings: peak_quantile must be in (0, 1], got {self.peak_quantile}"
            )
        if not 0 <= self.dead_tube_fraction < 1:
            raise ValueError(
                f"ExperimentSettings: dead_tube_fraction must be in [0, 1), got "
                f"{self.dead_tube_fraction}"
            )


def _panel_grids(layout: Layout2D, lattice_ab: tuple[float, float]):
    """Per-pixel (|Q| 1/Angstrom, E meV, Ei meV) images of the layout, each of layout.shape."""
    n = layout.n_pix
    qh, qk = (2.0 * np.pi * layout.hk_centres() / c for c in lattice_ab)
    q_inplane = np.hypot(qh[:, None], qk[None, :])  # (n_pix(H), n_pix(K))
    q_abs = np.empty((len(layout.ei_mev), layout.n_ebins, n, n))
    energy = np.empty_like(q_abs)
    ei = np.empty_like(q_abs)
    for i, ei_mev in enumerate(layout.ei_mev):
        edges = layout.ebin_edges(ei_mev)
        for j, e_mev in enumerate(0.5 * (edges[1:] + edges[:-1])):
            qz = kinematic_qz(ei_mev, e_mev, q_inplane)
            q_abs[i, j] = np.sqrt(q_inplane**2 + np.nan_to_num(qz, nan=0.0) ** 2)
            energy[i, j], ei[i, j] = e_mev, ei_mev
    return layout.assemble(q_abs), layout.assemble(energy), layout.assemble(ei)


def _background_terms(layout: Layout2D, lattice_ab: tuple[float, float], elastic_width: float):
    """The three background shapes (|Q|^2, flat, elastic tail), shape (3, *layout.shape)."""
    q_abs, energy, ei = _panel_grids(layout, lattice_ab)
    return np.stack([q_abs**2, np.ones_like(q_abs), np.exp(-energy / (elastic_width * ei))])


def _spurions(shape, candidates: np.ndarray, settings: ExperimentSettings, rng) -> np.ndarray:
    """Sum of ``n_spurions`` Gaussian spots (height 1) centred on random candidate pixels."""
    out = np.zeros(shape)
    if settings.n_spurions == 0 or len(candidates) == 0:
        return out
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    for flat in rng.choice(candidates, size=settings.n_spurions, replace=True):
        r0, c0 = np.unravel_index(flat, shape)
        out += np.exp(-((rows - r0) ** 2 + (cols - c0) ** 2) / (2.0 * SPURION_SIGMA_PIX**2))
    return out


def tube_live_fraction(
    layout: Layout2D,
    fraction: float,
    rng: np.random.Generator,
    lattice_ab: tuple[float, float] = LATTICE_AB,
) -> np.ndarray:
    """Share of each pixel's low-angle detector coverage that is alive, float of layout.shape.

    Each of the ``LOW_ANGLE_TUBES`` vertical tubes of the low-angle bank, side by side at
    ``TUBE_PITCH_DEG`` from -``DEAD_TUBE_MAX_ANGLE_DEG``, is dead with probability ``fraction``
    (one uniform draw per tube, in order of angle). A pixel at (H, K) of a panel is seen at the
    horizontal scattering angles ``alpha`` with ``Q_H = -sin(alpha) * sqrt(k_f^2 - Q_K^2)`` over
    its H extent (k_f at the bin centre, Q_K at the pixel centre); its live share is the part of
    that angular interval not covered by dead tubes (angles outside the bank count as live, as
    other banks see them). So a pixel is lost (0) only where every tube that sees it is dead,
    which at 16 pixels per panel (about 2 degrees, 9 tubes, per pixel) practically never happens,
    while a pixel narrower than a tube can lose all of its coverage. 1 where no k_f reaches.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"tube_live_fraction: fraction must be in [0, 1), got {fraction}")
    n = layout.n_pix
    dead = rng.random(LOW_ANGLE_TUBES) < fraction
    low = np.radians(-DEAD_TUBE_MAX_ANGLE_DEG + TUBE_PITCH_DEG * np.flatnonzero(dead))
    high = low + np.radians(TUBE_PITCH_DEG)
    panels = np.ones((len(layout.ei_mev), layout.n_ebins, n, n))
    if not dead.any():
        return layout.assemble(panels)
    qk = 2.0 * np.pi * layout.hk_centres() / lattice_ab[1]
    w = layout.pixel_width
    h_edges = -layout.hk_max - 0.5 * w + w * np.arange(n + 1)  # pixel edges in H, r.l.u.
    qh_edges = 2.0 * np.pi * h_edges / lattice_ab[0]  # (n_pix(H) + 1,)
    for i, ei_mev in enumerate(layout.ei_mev):
        edges = layout.ebin_edges(ei_mev)
        for j, e_mev in enumerate(0.5 * (edges[1:] + edges[:-1])):
            kf_sq = (ei_mev - e_mev) / NEUTRON_E2K
            kperp = np.sqrt(np.clip(kf_sq - qk**2, 0.0, None))  # (n_pix(K),)
            reach = kperp > 0
            ratio = np.clip(qh_edges[:, None] / np.where(reach, kperp, 1.0), -1.0, 1.0)
            alpha = -np.arcsin(ratio)  # (n_pix(H) + 1, n_pix(K)), decreasing with H
            a_low, a_high = alpha[1:], alpha[:-1]
            width = a_high - a_low
            lost = np.zeros_like(width)
            for lo, hi in zip(low, high, strict=True):
                lost += np.clip(np.minimum(a_high, hi) - np.maximum(a_low, lo), 0.0, None)
            live = np.where(width > 0, 1.0 - lost / np.where(width > 0, width, 1.0), 1.0)
            live[live < 1e-9] = 0.0  # the overlaps' rounding where all of a pixel's tubes died
            panels[i, j] = np.where(reach[None, :], np.clip(live, 0.0, 1.0), 1.0)
    return layout.assemble(panels)


def _validate(convolved: np.ndarray, layout: Layout2D, uncovered: np.ndarray) -> np.ndarray:
    convolved = np.asarray(convolved, dtype=float)
    uncovered = np.asarray(uncovered)
    if convolved.shape != layout.shape:
        raise ValueError(
            f"make_experiment_like: convolved has shape {convolved.shape}, the "
            f"layout needs {layout.shape}"
        )
    if uncovered.shape != layout.shape or uncovered.dtype != bool:
        raise ValueError(
            f"make_experiment_like: uncovered must be a bool array of shape "
            f"{layout.shape}, got {uncovered.dtype} {uncovered.shape}"
        )
    covered = convolved[~uncovered]
    if not np.all(np.isfinite(covered)):
        raise ValueError(
            "make_experiment_like: convolved has NaN/inf in covered pixels; only "
            "uncovered pixels may be NaN"
        )
    if covered.size and covered.min() < 0:
        raise ValueError(
            f"make_experiment_like: convolved must be >= 0 (an intensity), got min {covered.min()}"
        )
    return np.where(uncovered, 0.0, convolved)


def make_experiment_like(
    convolved: np.ndarray,
    layout: Layout2D,
    uncovered: np.ndarray,
    rng: np.random.Generator,
    settings: ExperimentSettings = ExperimentSettings(),
    lattice_ab: tuple[float, float] = LATTICE_AB,
) -> np.ndarray:
    """Experiment-like version of a convolved spectrum (see the module docstring).

    Parameters
    ----------
    convolved : ndarray, shape layout.shape
        Resolution-convolved intensity, >= 0, finite except (optionally NaN) where uncovered.
    layout : Layout2D
    uncovered : bool ndarray, shape layout.shape
        True where the detectors give no data (e.g. ``coverage.uncovered_mask(layout)``).
    rng : numpy.random.Generator
        Source of all randomness, drawn in this order: dead tubes (``tube_live_fraction``),
        spurions, counting noise, subtraction error.
    settings : ExperimentSettings

    Returns
    -------
    ndarray, float32, shape layout.shape
        Background-subtracted counts in the input's intensity units, >= 0, NaN exactly where
        ``uncovered`` or seen by dead tubes only.
    """
    signal = _validate(convolved, layout, uncovered)
    live = tube_live_fraction(layout, settings.dead_tube_fraction, rng, lattice_ab)
    dead = live == 0
    covered = signal[~uncovered]
    peak = float(np.quantile(covered, settings.peak_quantile)) if covered.size else 0.0
    if not peak > 0:
        raise ValueError(
            "make_experiment_like: convolved has no positive intensity in covered "
            "pixels; the count scale is defined relative to its typical peak"
        )
    terms = _background_terms(layout, lattice_ab, settings.elastic_width)
    amplitudes = peak * np.array(
        [settings.background_q2, settings.background_flat, settings.background_elastic]
    )
    background = np.tensordot(amplitudes, terms, axes=1)
    candidates = np.flatnonzero(~uncovered)
    spots = settings.spurion_amplitude * peak * _spurions(layout.shape, candidates, settings, rng)
    scale = settings.counts_at_peak / peak * np.where(dead, 1.0, live)  # counts per unit
    counts = rng.poisson(scale * (signal + background + spots))
    wrong = amplitudes * (1.0 + rng.uniform(-1.0, 1.0, 3) * settings.background_error)
    measured = np.clip(counts / scale - np.tensordot(wrong, terms, axes=1), 0.0, None)
    measured[uncovered | dead] = np.nan
    return measured.astype(np.float32)
