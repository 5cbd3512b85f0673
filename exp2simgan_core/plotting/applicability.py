"""Figures of the applicability domain: ridgelines of Sinkhorn distances, Fig. 5 and the ESI's
per-direction panels (conventions: ``exp2simgan_core.plotting``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory

from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.plotting.base import (
    PANEL_WIDTH_IN,
    mosaic_height,
    new_figure,
    require,
    spectrum_group,
)

KERNEL_LABELS = ("Dimer", "Goodenough")  # DUQ class order (vocabulary.CLASSES)
ZONE_STYLE = (
    ("trustworthy", "tab:green"),
    ("expert opinion", "tab:orange"),
    ("untrustworthy", "tab:red"),
)
DISTANCE_LABEL = "Sinkhorn distance to training set"
SET_COLOUR = "tab:blue"  # ridgeline fill, distinct from the zone colours


def ridgeline(
    ax: Axes, distances: Mapping[str, np.ndarray], zones: Mapping[str, float], n_grid: int = 400
) -> None:
    """Distance distributions per set, stacked downwards in the given order, over shaded zones.

    ``distances[set_name]``: 1D array of Sinkhorn distances (non-finite values dropped).
    ``zones``: ``trust_max`` <= ``untrust_min``, in the same units. Each set is a Gaussian kernel
    density estimate (Scott's bandwidth, at least 1 % of the plotted range) scaled to unit peak.
    """
    require(zones, ("trust_max", "untrust_min"), "zones")
    trust_max, untrust_min = float(zones["trust_max"]), float(zones["untrust_min"])
    if trust_max > untrust_min:
        raise ValueError(f"zones: trust_max={trust_max} exceeds untrust_min={untrust_min}")
    sets = {name: np.asarray(d, float).ravel() for name, d in distances.items()}
    sets = {name: d[np.isfinite(d)] for name, d in sets.items()}
    empty = [name for name, d in sets.items() if d.size == 0]
    if not sets or empty:
        raise ValueError(f"distances: no finite values for sets {empty or 'any'}")
    lo = min(trust_max, *(d.min() for d in sets.values()))
    hi = max(untrust_min, *(d.max() for d in sets.values()))
    pad = 0.08 * (hi - lo) if hi > lo else 1.0
    x_lo, x_hi = lo - pad, hi + pad
    x = np.linspace(x_lo, x_hi, n_grid)
    for i, d in enumerate(sets.values()):
        base = len(sets) - 1 - i
        bw = max(1.06 * d.std() * d.size ** (-0.2), 0.01 * (x_hi - x_lo))
        density = np.exp(-0.5 * ((x[:, None] - d[None, :]) / bw) ** 2).sum(axis=1)
        curve = base + 0.85 * density / density.max()
        ax.fill_between(x, base, curve, color=SET_COLOUR, alpha=0.6, lw=0, zorder=2 + i)
        ax.plot(x, curve, color="k", lw=0.6, zorder=2 + i)
    bounds = (x_lo, trust_max, untrust_min, x_hi)
    top = blended_transform_factory(ax.transData, ax.transAxes)
    for (label, colour), left, right in zip(ZONE_STYLE, bounds[:-1], bounds[1:], strict=True):
        ax.axvspan(left, right, color=colour, alpha=0.12, lw=0, zorder=0)
        ax.text(0.5 * (left + right), 0.99, label, transform=top, ha="center", va="top", fontsize=8)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(-0.1, len(sets) + 0.25)
    ax.set_yticks(np.arange(len(sets))[::-1], list(sets))
    ax.set_xlabel(DISTANCE_LABEL)


def _kernel_box(ax: Axes, kernels: Sequence[float]) -> None:
    if len(kernels) != len(KERNEL_LABELS):
        raise ValueError(f"kernels {kernels}: give one value per class {KERNEL_LABELS}")
    text = " | ".join(f"{name}: {k:.2f}" for name, k in zip(KERNEL_LABELS, kernels, strict=True))
    ax.text(
        0.02,
        0.98,
        f"[{text}]",
        transform=ax.transAxes,
        ha="left",
        va="top",
        fontsize=8,
        bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85},
    )


def fig5(
    experiment: Mapping,
    negative_control: Mapping,
    distances: Mapping[str, np.ndarray],
    zones: Mapping[str, float],
    layout: Layout2D,
    caption: str,
) -> Figure:
    """Fig. 5: experiment and negative control, raw and GAN-deconvolved, with DUQ kernel values,
    and the ridgeline of distances to the training set.

    ``experiment`` and ``negative_control``: dicts with 2D images ``raw`` and ``deconvolved`` and
    kernel pairs ``kernels_raw`` and ``kernels_deconvolved`` = (k_dimer, k_goodenough) in [0, 1].
    ``distances`` and ``zones`` as for ``ridgeline``.
    """
    keys = ("raw", "deconvolved", "kernels_raw", "kernels_deconvolved")
    spectrum_in = mosaic_height(layout, PANEL_WIDTH_IN) + 0.8
    ridge_in = 0.45 * len(distances) + 1.2
    fig = new_figure(2 * PANEL_WIDTH_IN + 2.2, 2 * spectrum_in + ridge_in, caption)
    grid = fig.add_gridspec(3, 2, height_ratios=(spectrum_in, spectrum_in, ridge_in))
    for i, (name, spectra) in enumerate(
        (("experiment", experiment), ("negative control", negative_control))
    ):
        require(spectra, keys, name)
        for j, stage in enumerate(("raw", "deconvolved")):
            ax = fig.add_subplot(grid[i, j])
            title = f"{name}, {'raw' if stage == 'raw' else 'GAN-deconvolved'}"
            spectrum_group(fig, [ax], [spectra[stage]], [title], layout)
            _kernel_box(ax, spectra[f"kernels_{stage}"])
    ridgeline(fig.add_subplot(grid[2, :]), distances, zones)
    return fig


def esi_applicability(
    distances_by_direction: Mapping[str, Mapping[str, np.ndarray]],
    zones_by_direction: Mapping[str, Mapping[str, float]],
    caption: str,
) -> Figure:
    """ESI C/D: one ridgeline per direction (``exp2sim``, ``sim2exp``, one or both), each with
    its own zones; inputs per direction as for ``ridgeline``."""
    require(zones_by_direction, list(distances_by_direction), "zones_by_direction")
    n_sets = max(len(d) for d in distances_by_direction.values())
    fig = new_figure(6.5 * len(distances_by_direction), 0.45 * n_sets + 1.6, caption)
    axes = fig.subplots(1, len(distances_by_direction), squeeze=False)[0]
    for ax, (direction, distances) in zip(axes, distances_by_direction.items(), strict=True):
        ridgeline(ax, distances, zones_by_direction[direction])
        ax.set_title(direction, fontsize=10)
    return fig
