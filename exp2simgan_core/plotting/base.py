"""Shared pieces of every figure: constants, the captioned figure, colour limits, 2D and 3D
spectrum panels, and saving (conventions: ``exp2simgan_core.plotting``)."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.image import AxesImage

from exp2simgan_core.physics.layout import Layout2D, Layout3D
from exp2simgan_core.util import atomic_path

CMAP = colormaps["viridis"].with_extremes(bad=(0.0, 0.0, 0.0, 0.0))  # NaN: transparent
INTENSITY_LABEL = "intensity (arb. units)"
VMAX_PERCENTILE = 99.5
CAPTION_FONTSIZE = 7.0
PANEL_WIDTH_IN = 4.8  # width of one 2D mosaic panel, inches


def save_figure(fig: Figure, pdf_path: Path | str, png_path: Path | str, dpi: int = 150) -> None:
    """Write ``fig`` to ``pdf_path`` and ``png_path`` (PNG at ``dpi``) atomically, then release it.

    Each file is written beside its destination and moved into place (``util.atomic_path``), so
    a reader never sees a partial file. The PNG is ``figsize * dpi`` pixels (no tight bounding box).
    """
    for path, fmt in ((pdf_path, "pdf"), (png_path, "png")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
    if fig.canvas.manager is not None:  # a pyplot figure: unregister it
        from matplotlib import pyplot

        pyplot.close(fig)
    fig.clear()


def new_figure(width_in: float, height_in: float, caption: str) -> Figure:
    """Constrained-layout figure with ``caption`` wrapped into a footer strip."""
    lines = textwrap.wrap(caption, width=max(20, int(width_in * 72 / (0.55 * CAPTION_FONTSIZE))))
    footer_in = (len(lines) + 0.8) * CAPTION_FONTSIZE * 1.3 / 72
    fig = Figure(figsize=(width_in, height_in + footer_in), layout="constrained")
    frac = footer_in / (height_in + footer_in)
    fig.get_layout_engine().set(rect=(0.0, frac, 1.0, 1.0 - frac))
    fig.text(0.01, 0.3 * frac, "\n".join(lines), fontsize=CAPTION_FONTSIZE, color="0.3")
    return fig


def colour_max(*images: np.ndarray) -> float:
    """The 99.5th percentile of the finite values of all images (1 when there are none)."""
    finite = np.concatenate([np.asarray(im, float).ravel() for im in images])
    finite = finite[np.isfinite(finite)]
    vmax = float(np.percentile(finite, VMAX_PERCENTILE)) if finite.size else 1.0
    return vmax if vmax > 0 else 1.0


def mosaic_height(layout: Layout2D, width_in: float) -> float:
    rows, cols = layout.shape
    return width_in * rows / cols


def _ebin_fractions(layout: Layout2D) -> np.ndarray:
    """Energy-bin centres as fractions of Ei, shape (n_ebins,); the same for every Ei."""
    fractions = np.array([layout.ebin_edges(ei) / ei for ei in layout.ei_mev])
    if not np.allclose(fractions, fractions[0]):
        raise ValueError("layout: energy bins are not the same fractions of Ei for every Ei")
    return 0.5 * (fractions[0, :-1] + fractions[0, 1:])


def draw_spectrum_2d(
    ax: Axes,
    image: np.ndarray,
    layout: Layout2D,
    *,
    vmax: float | None = None,
    title: str | None = None,
) -> AxesImage:
    """Draw one 2D spectrum image, shape ``layout.shape`` (NaN = masked), into ``ax``.

    Data coordinates are panel units: x in [0, n_ebins] (ticks at panel centres labelled with the
    energy-bin centre as a fraction of Ei), y in [0, n_ei] downwards (ticks labelled with Ei in
    meV). Colour limits 0 and ``vmax`` (default: 99.5th percentile of the finite values).
    """
    image = np.asarray(image, dtype=float)
    if image.shape != layout.shape:
        raise ValueError(f"image has shape {image.shape}, the layout needs {layout.shape}")
    n_ei, n_e, hk = len(layout.ei_mev), layout.n_ebins, layout.hk_max
    im = ax.imshow(
        image,
        cmap=CMAP,
        vmin=0.0,
        vmax=colour_max(image) if vmax is None else vmax,
        extent=(0.0, n_e, n_ei, 0.0),
        interpolation="nearest",
        aspect="equal",
    )
    ax.set_yticks(np.arange(n_ei) + 0.5, [f"{ei:g} meV" for ei in layout.ei_mev])
    ax.set_xticks(np.arange(n_e) + 0.5, [f"{f:.2f}" for f in _ebin_fractions(layout)])
    ax.tick_params(length=0, labelsize=7)
    ax.set_ylabel(f"$E_i$   (in each panel: H down, {-hk:g} to {hk:g} r.l.u.)", fontsize=8)
    ax.set_xlabel(f"$E/E_i$   (in each panel: K across, {-hk:g} to {hk:g} r.l.u.)", fontsize=8)
    ax.hlines(np.arange(1, n_ei), 0, n_e, colors="0.85", linewidths=0.4)
    ax.vlines(np.arange(1, n_e), 0, n_ei, colors="0.85", linewidths=0.4)
    if title is not None:
        ax.set_title(title, fontsize=9)
    return im


def spectrum_group(
    fig: Figure | SubFigure,
    axes: Sequence[Axes],
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    layout: Layout2D,
) -> None:
    """Draw images that share one colour scale, with one colour bar for the group."""
    vmax = colour_max(*images)
    ims = [
        draw_spectrum_2d(a, im, layout, vmax=vmax, title=t)
        for a, im, t in zip(axes, images, titles, strict=True)
    ]
    fig.colorbar(ims[-1], ax=list(axes), label=INTENSITY_LABEL, shrink=0.8)


def require(mapping: Mapping, keys: Sequence[str], what: str) -> None:
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ValueError(f"{what}: missing keys {missing}; it needs {list(keys)}")


def _k0_cut(volume: np.ndarray, layout3d: Layout3D) -> np.ndarray:
    """E-H cut at K = 0, shape (n_pix, n_e): mean over the K columns within half a pixel of 0."""
    near = np.abs(layout3d.hk_centres()) <= 0.5 * layout3d.pixel_width + 1e-9
    band = volume[:, near, :]  # (H, k, E)
    finite = np.isfinite(band)
    count = finite.sum(axis=1)
    total = np.where(finite, band, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def draw_spectrum_3d(
    axes: Sequence[Axes],
    volume: np.ndarray,
    layout3d: Layout3D,
    *,
    slices: Sequence[float] | None = None,
    vmax: float | None = None,
    row_label: str | None = None,
) -> list[AxesImage]:
    """Constant-energy H-K slices and one E-H cut at K = 0 of a volume of ``layout3d.shape``.

    ``slices``: energy transfers in meV (each shows the nearest bin; default: a quarter, half and
    three quarters along the energy axis); ``axes`` has ``len(slices) + 1`` entries, the cut last.
    Returns the images in the order of ``axes``.
    """
    volume = np.asarray(volume, dtype=float)
    if volume.shape != layout3d.shape:
        raise ValueError(f"volume has shape {volume.shape}, the layout needs {layout3d.shape}")
    edges = layout3d.ebin_edges()
    centres = 0.5 * (edges[:-1] + edges[1:])
    if slices is None:
        slices = [float(np.interp(f, (0.0, 1.0), (edges[0], edges[-1]))) for f in (0.25, 0.5, 0.75)]
    if len(axes) != len(slices) + 1:
        raise ValueError(f"{len(axes)} axes for {len(slices)} slices: give len(slices) + 1 axes")
    vmax = colour_max(volume) if vmax is None else vmax
    half = layout3d.hk_max + 0.5 * layout3d.pixel_width
    ims = []
    for ax, energy in zip(axes[:-1], slices, strict=True):
        k = int(np.argmin(np.abs(centres - energy)))
        ims.append(
            ax.imshow(
                volume[:, :, k].T,
                cmap=CMAP,
                vmin=0.0,
                vmax=vmax,
                origin="lower",
                extent=(-half, half, -half, half),
            )
        )
        ax.set_title(f"E = {centres[k]:.1f} meV", fontsize=9)
        ax.set(xlabel="H (r.l.u.)", ylabel="K (r.l.u.)")
    cut = axes[-1]
    ims.append(
        cut.imshow(
            _k0_cut(volume, layout3d).T,
            cmap=CMAP,
            vmin=0.0,
            vmax=vmax,
            origin="lower",
            extent=(-half, half, edges[0], edges[-1]),
            aspect="auto",
        )
    )
    cut.set_title("K = 0", fontsize=9)
    cut.set(xlabel="H (r.l.u.)", ylabel="E (meV)")
    for ax in axes:
        ax.set_box_aspect(1.0)
    if row_label is not None:
        axes[0].set_ylabel(f"{row_label}\nK (r.l.u.)")
    return ims
