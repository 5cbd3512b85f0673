"""The GAN's training curves and checkpoint selection (conventions: ``plotting``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from exp2simgan_core.plotting.base import (
    new_figure,
    require,
)


def _moving_average(y: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` values, shape (n - window + 1,)."""
    c = np.cumsum(np.concatenate([[0.0], y]))
    return (c[window:] - c[:-window]) / window


def _loss_panel(ax: Axes, iteration: np.ndarray, losses: Mapping, prefix: str, window: int) -> None:
    """Loss curves of the columns starting with ``prefix``; log y when all are positive."""
    columns = [k for k in losses if k.startswith(prefix)]
    zero = [k for k in columns if not np.any(np.asarray(losses[k]))]
    w = max(1, min(window, iteration.size))
    for i, name in enumerate(k for k in columns if k not in zero):
        y = np.asarray(losses[name], float)
        ax.plot(iteration, y, color=f"C{i}", alpha=0.2, lw=0.6)
        ax.plot(iteration[w - 1 :], _moving_average(y, w), color=f"C{i}", lw=1.4, label=name)
    shown = [np.asarray(losses[k], float) for k in columns if k not in zero]
    if shown and all(np.all(y > 0) for y in shown):
        ax.set_yscale("log")
    note = f" ({', '.join(zero)} = 0 throughout)" if zero else ""
    ax.set_title(f"{'generator' if prefix == 'g_' else 'discriminator'} losses{note}", fontsize=9)
    ax.set(xlabel="iteration", ylabel=f"loss (mean over {w} iterations)")
    ax.legend(fontsize=7)


def training_figure(
    losses: Mapping[str, np.ndarray],
    selection: Sequence[Mapping],
    selected_iteration: Mapping[str, int],
    caption: str,
    *,
    window: int = 50,
) -> Figure:
    """GAN training: loss curves (moving average over ``window``, raw faint), learning rate, and
    the Fréchet distance per checkpoint with the selected one marked.

    ``losses``: columns of losses.csv (``iteration``, ``g_*``, ``d_*``, ``lr``), 1D arrays of equal
    length. ``selection``: rows with ``iteration``, ``frechet_distance`` and ``direction``;
    ``selected_iteration[direction]`` is one of that direction's iterations.
    """
    require(losses, ("iteration", "lr"), "losses")
    iteration = np.asarray(losses["iteration"], float)
    if any(np.asarray(v).shape != iteration.shape for v in losses.values()):
        raise ValueError("losses: every column must be a 1D array as long as 'iteration'")
    fig = new_figure(11.0, 7.0, caption)
    (ax_g, ax_d), (ax_lr, ax_fd) = fig.subplots(2, 2)
    _loss_panel(ax_g, iteration, losses, "g_", window)
    _loss_panel(ax_d, iteration, losses, "d_", window)
    ax_lr.plot(iteration, losses["lr"], color="k")
    ax_lr.set(xlabel="iteration", ylabel="learning rate")
    ax_lr.set_title("learning rate", fontsize=9)
    for i, (direction, chosen) in enumerate(selected_iteration.items()):
        rows = sorted(
            (r for r in selection if r["direction"] == direction), key=lambda r: r["iteration"]
        )
        its = np.array([r["iteration"] for r in rows])
        fds = np.array([r["frechet_distance"] for r in rows])
        if chosen not in its:
            raise ValueError(f"selected iteration {chosen} is not a {direction!r} checkpoint")
        ax_fd.plot(its, fds, "o-", color=f"C{i}", ms=4, label=direction)
        best = fds[its == chosen][0]
        ax_fd.plot([chosen], [best], "*", color=f"C{i}", ms=14, mec="k")
        ax_fd.annotate(
            f"selected: {chosen}",
            (chosen, best),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=8,
        )
    ax_fd.set(xlabel="iteration", ylabel="Fréchet distance")
    ax_fd.set_title("checkpoint selection", fontsize=9)
    ax_fd.legend(fontsize=8)
    return fig
