"""Figures of the paper and the report: pure functions from arrays and tables to matplotlib Figures.

Every function builds a ``matplotlib.figure.Figure`` directly (no pyplot, no global state);
``save_figure`` writes it as PDF and PNG. Conventions of every spectrum panel:

* 2D images follow ``Layout2D`` (rows: Ei blocks ascending downwards, columns: energy-transfer
  bins ascending to the right; inside a panel H down the rows, K across the columns, r.l.u.);
  3D volumes follow ``Layout3D`` (axes H, K, E; E in meV).
* Masked (uncovered) pixels are NaN and drawn transparent; the colour map is viridis; the colour
  limits are 0 and, unless given, the 99.5th percentile of the finite values; every colour bar
  reads "intensity (arb. units)". Panels in the same data domain that are compared with each
  other share one colour scale.
* ``caption`` (run provenance: preset, seed, checkpoint) is drawn as a small footer.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.image import AxesImage
from matplotlib.transforms import blended_transform_factory

from exp2simgan_core.physics.layout import Layout2D, Layout3D
from exp2simgan_core.vocabulary import DIRECTIONS

CMAP = colormaps["viridis"].with_extremes(bad=(0.0, 0.0, 0.0, 0.0))  # NaN: transparent
INTENSITY_LABEL = "intensity (arb. units)"
VMAX_PERCENTILE = 99.5
KERNEL_LABELS = ("Dimer", "Goodenough")  # DUQ class order (vocabulary.CLASSES)
ZONE_STYLE = (
    ("trustworthy", "tab:green"),
    ("expert opinion", "tab:orange"),
    ("untrustworthy", "tab:red"),
)
DISTANCE_LABEL = "Sinkhorn distance to training set"
SET_COLOUR = "tab:blue"  # ridgeline fill, distinct from the zone colours
CAPTION_FONTSIZE = 7.0
CUT_MARKERS = ("o", "s", "^", "D")  # translations in the energy-cut figure
PANEL_WIDTH_IN = 4.8  # width of one 2D mosaic panel, inches


def save_figure(fig: Figure, pdf_path: Path | str, png_path: Path | str, dpi: int = 150) -> None:
    """Write ``fig`` to ``pdf_path`` and ``png_path`` (PNG at ``dpi``) atomically, then release it.

    Each file is written beside its destination and moved into place with ``os.replace``, so a
    reader never sees a partial file. The PNG is ``figsize * dpi`` pixels (no tight bounding box).
    """
    for path, fmt in ((Path(pdf_path), "pdf"), (Path(png_path), "png")):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            fig.savefig(tmp, format=fmt, dpi=dpi)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    if fig.canvas.manager is not None:  # a pyplot figure: unregister it
        from matplotlib import pyplot

        pyplot.close(fig)
    fig.clear()


def _figure(width_in: float, height_in: float, caption: str) -> Figure:
    """Constrained-layout figure with ``caption`` wrapped into a footer strip."""
    lines = textwrap.wrap(caption, width=max(20, int(width_in * 72 / (0.55 * CAPTION_FONTSIZE))))
    footer_in = (len(lines) + 0.8) * CAPTION_FONTSIZE * 1.3 / 72
    fig = Figure(figsize=(width_in, height_in + footer_in), layout="constrained")
    frac = footer_in / (height_in + footer_in)
    fig.get_layout_engine().set(rect=(0.0, frac, 1.0, 1.0 - frac))
    fig.text(0.01, 0.3 * frac, "\n".join(lines), fontsize=CAPTION_FONTSIZE, color="0.3")
    return fig


def _vmax(*images: np.ndarray) -> float:
    """The 99.5th percentile of the finite values of all images (1 when there are none)."""
    finite = np.concatenate([np.asarray(im, float).ravel() for im in images])
    finite = finite[np.isfinite(finite)]
    vmax = float(np.percentile(finite, VMAX_PERCENTILE)) if finite.size else 1.0
    return vmax if vmax > 0 else 1.0


def _mosaic_height(layout: Layout2D, width_in: float) -> float:
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
        vmax=_vmax(image) if vmax is None else vmax,
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


def _spectrum_group(
    fig: Figure | SubFigure,
    axes: Sequence[Axes],
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    layout: Layout2D,
) -> None:
    """Draw images that share one colour scale, with one colour bar for the group."""
    vmax = _vmax(*images)
    ims = [
        draw_spectrum_2d(a, im, layout, vmax=vmax, title=t)
        for a, im, t in zip(axes, images, titles, strict=True)
    ]
    fig.colorbar(ims[-1], ax=list(axes), label=INTENSITY_LABEL, shrink=0.8)


def _require(mapping: Mapping, keys: Sequence[str], what: str) -> None:
    missing = [k for k in keys if k not in mapping]
    if missing:
        raise ValueError(f"{what}: missing keys {missing}; it needs {list(keys)}")


def fig2(
    experiment: np.ndarray,
    convolved: np.ndarray,
    unconvolved: np.ndarray,
    layout: Layout2D,
    caption: str,
) -> Figure:
    """Fig. 2: (pseudo-)experimental spectrum, a simulation convolved and unconvolved.

    All three are 2D images of ``layout.shape``; each has its own colour scale (their intensity
    normalisations differ).
    """
    fig = _figure(3 * PANEL_WIDTH_IN + 2.4, _mosaic_height(layout, PANEL_WIDTH_IN) + 0.9, caption)
    axes = fig.subplots(1, 3)
    titles = ("(pseudo-)experiment", "simulation, convolved", "simulation, unconvolved")
    for ax, image, title in zip(axes, (experiment, convolved, unconvolved), titles, strict=True):
        _spectrum_group(fig, [ax], [image], [title], layout)
    return fig


def _translation_rows(
    examples: Mapping[str, Mapping[str, np.ndarray]],
    keys: tuple[str, str, str],
    titles: tuple[str, str, str],
    layout: Layout2D,
    fig: Figure | SubFigure,
) -> None:
    """One row per class: input | translation | truth; translation and truth share a scale."""
    axes = fig.subplots(len(examples), 3, squeeze=False)
    for row, (name, example) in zip(axes, examples.items(), strict=True):
        _require(example, keys, f"examples[{name!r}]")
        _spectrum_group(fig, row[:1], [example[keys[0]]], [f"{name}: {titles[0]}"], layout)
        _spectrum_group(fig, row[1:], [example[k] for k in keys[1:]], titles[1:], layout)


def _accuracy_cells(row: Mapping) -> list[str]:
    _require(
        row,
        ("trained_on", "evaluated_on", "accuracy", "ci_low", "ci_high", "paper_accuracy"),
        "accuracy row",
    )
    values = [
        row[k] for k in ("accuracy", "ci_low", "ci_high", "paper_accuracy") if row[k] is not None
    ]
    if not all(0.0 <= v <= 1.0 for v in values):
        raise ValueError(f"accuracy row {row}: accuracies are fractions in [0, 1], not percent")
    ours = f"{100 * row['accuracy']:.1f} % [{100 * row['ci_low']:.1f}, {100 * row['ci_high']:.1f}]"
    paper = "-" if row["paper_accuracy"] is None else f"{100 * row['paper_accuracy']:.1f} %"
    return [str(row["trained_on"]), str(row["evaluated_on"]), ours, paper]


def fig4(
    examples: Mapping[str, Mapping[str, np.ndarray]],
    layout: Layout2D,
    accuracy_rows: Sequence[Mapping],
    caption: str,
) -> Figure:
    """Fig. 4: GAN deconvolution per class and the DUQ accuracy table.

    ``examples[class_name]`` has 2D images ``convolved``, ``deconvolved`` (GAN output) and
    ``unconvolved`` (truth). ``accuracy_rows``: dicts with ``trained_on``, ``evaluated_on``,
    ``accuracy``, ``ci_low``, ``ci_high`` (95 % interval) and ``paper_accuracy`` (or None), all
    accuracies fractions in [0, 1].
    """
    cells = [_accuracy_cells(row) for row in accuracy_rows]
    row_in = _mosaic_height(layout, PANEL_WIDTH_IN) + 0.9
    table_in = 0.25 * (len(cells) + 1) + 0.5
    fig = _figure(3 * PANEL_WIDTH_IN + 2.6, len(examples) * row_in + table_in, caption)
    top, bottom = fig.subfigures(2, 1, height_ratios=(len(examples) * row_in, table_in))
    titles = ("convolved input", "GAN-deconvolved", "true unconvolved")
    _translation_rows(examples, ("convolved", "deconvolved", "unconvolved"), titles, layout, top)
    ax = bottom.subplots()
    ax.axis("off")
    labels = ["DUQ trained on", "evaluated on", "accuracy [95 % CI]", "paper"]
    table = ax.table(cellText=cells, colLabels=labels, loc="center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    return fig


def energy_cuts(rows: Mapping[str, Sequence[Mapping]], caption: str) -> Figure:
    """Constant-(H, K) energy cuts, one row of panels per entry of ``rows``.

    ``rows[row_name]``: cuts, each a mapping with ``title``, ``energy_mev`` (bin centres, shape
    (n_e,)), ``input`` and ``truth`` (intensities, shape (n_e,), NaN = uncovered) and
    ``translations`` (legend label -> intensities). Input dashed and truth solid in black; each
    translation label has one colour and marker throughout; one legend, above the panels.
    """
    labels = list(
        dict.fromkeys(k for cuts in rows.values() for c in cuts for k in c.get("translations", {}))
    )
    n_cols = max(len(cuts) for cuts in rows.values())
    fig = _figure(4.2 * n_cols, 2.9 * len(rows) + 0.8, caption)
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for row, (name, cuts) in zip(axes, rows.items(), strict=True):
        for ax, cut in zip(row, cuts, strict=False):
            _require(cut, ("title", "energy_mev", "input", "truth", "translations"), name)
            e = np.asarray(cut["energy_mev"], float)
            ax.plot(e, cut["input"], "k--", lw=1.2, label="convolved input")
            for label, values in cut["translations"].items():
                j = labels.index(label)
                ax.plot(e, values, color=f"C{j}", marker=CUT_MARKERS[j % len(CUT_MARKERS)],
                        ms=4, label=label)  # fmt: skip
            ax.plot(e, cut["truth"], "k-", lw=1.6, label="true unconvolved")
            ax.set_title(cut["title"], fontsize=9)
            ax.set_xlabel("energy transfer (meV)", fontsize=8)
            ax.set_ylabel(INTENSITY_LABEL, fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in row[len(cuts) :]:
            ax.axis("off")
    handles = {}
    for ax in axes.ravel():
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    handles["true unconvolved"] = handles.pop("true unconvolved")  # last, after every method
    fig.legend(handles.values(), handles.keys(), loc="outside upper center", ncols=3, fontsize=8)
    return fig


def esi_b(
    examples: Mapping[str, Mapping[str, np.ndarray]], layout: Layout2D, caption: str
) -> Figure:
    """ESI B: GAN convolution per class; ``examples[class_name]`` has 2D images
    ``unconvolved`` (input), ``convolved_gan`` (Sim2Exp output) and ``convolved`` (truth)."""
    row_in = _mosaic_height(layout, PANEL_WIDTH_IN) + 0.9
    fig = _figure(3 * PANEL_WIDTH_IN + 2.6, len(examples) * row_in, caption)
    titles = ("unconvolved input", "GAN-convolved", "true convolved")
    _translation_rows(examples, ("unconvolved", "convolved_gan", "convolved"), titles, layout, fig)
    return fig


def ridgeline(
    ax: Axes, distances: Mapping[str, np.ndarray], zones: Mapping[str, float], n_grid: int = 400
) -> None:
    """Distance distributions per set, stacked downwards in the given order, over shaded zones.

    ``distances[set_name]``: 1D array of Sinkhorn distances (non-finite values dropped).
    ``zones``: ``trust_max`` <= ``untrust_min``, in the same units. Each set is a Gaussian kernel
    density estimate (Scott's bandwidth, at least 1 % of the plotted range) scaled to unit peak.
    """
    _require(zones, ("trust_max", "untrust_min"), "zones")
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
    spectrum_in = _mosaic_height(layout, PANEL_WIDTH_IN) + 0.8
    ridge_in = 0.45 * len(distances) + 1.2
    fig = _figure(2 * PANEL_WIDTH_IN + 2.2, 2 * spectrum_in + ridge_in, caption)
    grid = fig.add_gridspec(3, 2, height_ratios=(spectrum_in, spectrum_in, ridge_in))
    for i, (name, spectra) in enumerate(
        (("experiment", experiment), ("negative control", negative_control))
    ):
        _require(spectra, keys, name)
        for j, stage in enumerate(("raw", "deconvolved")):
            ax = fig.add_subplot(grid[i, j])
            title = f"{name}, {'raw' if stage == 'raw' else 'GAN-deconvolved'}"
            _spectrum_group(fig, [ax], [spectra[stage]], [title], layout)
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
    _require(zones_by_direction, list(distances_by_direction), "zones_by_direction")
    n_sets = max(len(d) for d in distances_by_direction.values())
    fig = _figure(6.5 * len(distances_by_direction), 0.45 * n_sets + 1.6, caption)
    axes = fig.subplots(1, len(distances_by_direction), squeeze=False)[0]
    for ax, (direction, distances) in zip(axes, distances_by_direction.items(), strict=True):
        ridgeline(ax, distances, zones_by_direction[direction])
        ax.set_title(direction, fontsize=10)
    return fig


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
    vmax = _vmax(volume) if vmax is None else vmax
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


def fig6(
    examples: Mapping[str, Mapping[str, np.ndarray]], layout3d: Layout3D, caption: str
) -> Figure:
    """Fig. 6: the 3D GAN; ``examples['exp2sim']`` and ``examples['sim2exp']`` each hold volumes
    ``input``, ``output`` (GAN) and ``target`` (truth) of ``layout3d.shape``, NaN-masked.
    Output and truth share a colour scale."""
    _require(examples, tuple(DIRECTIONS), "examples")
    fig = _figure(13.0, 2 * 3 * 2.6 + 0.8, caption)
    for sub, named in zip(fig.subfigures(2, 1), DIRECTIONS.values(), strict=True):
        volumes = examples[named.name]
        _require(volumes, ("input", "output", "target"), f"examples[{named.name!r}]")
        sub.suptitle(named.title, fontsize=11)
        axes = sub.subplots(3, 4)
        ims = draw_spectrum_3d(axes[0], volumes["input"], layout3d, row_label="input")
        sub.colorbar(ims[-1], ax=list(axes[0]), label=INTENSITY_LABEL, shrink=0.8)
        vmax = _vmax(volumes["output"], volumes["target"])
        for row, key, label in ((axes[1], "output", "GAN output"), (axes[2], "target", "truth")):
            ims = draw_spectrum_3d(row, volumes[key], layout3d, vmax=vmax, row_label=label)
        sub.colorbar(ims[-1], ax=list(axes[1:].ravel()), label=INTENSITY_LABEL, shrink=0.8)
    return fig


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
    _require(losses, ("iteration", "lr"), "losses")
    iteration = np.asarray(losses["iteration"], float)
    if any(np.asarray(v).shape != iteration.shape for v in losses.values()):
        raise ValueError("losses: every column must be a 1D array as long as 'iteration'")
    fig = _figure(11.0, 7.0, caption)
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


def data_overview(
    params_by_class: Mapping[str, np.ndarray],
    param_names_by_class: Mapping[str, Sequence[str]],
    examples_by_class: Mapping[str, tuple[np.ndarray, np.ndarray]],
    layout: Layout2D,
    caption: str,
) -> Figure:
    """Training data: histograms of the exchange parameters (meV) per class, and one
    (convolved, unconvolved) pair of 2D images per class.

    ``params_by_class[c]``: shape (n, p), columns named by ``param_names_by_class[c]`` (p names).
    """
    n_cls = len(params_by_class)
    n_par = max(np.shape(p)[1] for p in params_by_class.values())
    hist_in, spec_in = 1.9 * n_cls, (_mosaic_height(layout, PANEL_WIDTH_IN) + 0.9) * n_cls
    fig = _figure(max(2 * PANEL_WIDTH_IN + 2.0, 2.0 * n_par), hist_in + spec_in, caption)
    top, bottom = fig.subfigures(2, 1, height_ratios=(hist_in, spec_in))
    hist_axes = top.subplots(n_cls, n_par, squeeze=False)
    spec_axes = bottom.subplots(n_cls, 2, squeeze=False)
    for i, (cls, params) in enumerate(params_by_class.items()):
        params, names = np.asarray(params, float), list(param_names_by_class[cls])
        if params.ndim != 2 or params.shape[1] != len(names):
            raise ValueError(f"params_by_class[{cls!r}] has shape {params.shape} for names {names}")
        for j, ax in enumerate(hist_axes[i]):
            if j >= len(names):
                ax.axis("off")
                continue
            ax.hist(params[:, j], bins=20, color=f"C{i}")
            ax.set_xlabel(f"{names[j]} (meV)", fontsize=8)
            ax.tick_params(labelsize=7)
        hist_axes[i, 0].set_ylabel(f"{cls}\ncount", fontsize=8)
        convolved, unconvolved = examples_by_class[cls]
        _spectrum_group(bottom, spec_axes[i, :1], [convolved], [f"{cls}: convolved"], layout)
        _spectrum_group(bottom, spec_axes[i, 1:], [unconvolved], [f"{cls}: unconvolved"], layout)
    return fig
