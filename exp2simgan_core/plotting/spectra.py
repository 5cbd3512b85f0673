"""Figures of spectra: the paper's Figs. 2, 4 and 6, the ESI's Sim2Exp examples, energy cuts
and the data overview (conventions: ``exp2simgan_core.plotting``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure, SubFigure

from exp2simgan_core.physics.layout import Layout2D, Layout3D
from exp2simgan_core.plotting.base import (
    INTENSITY_LABEL,
    PANEL_WIDTH_IN,
    colour_max,
    draw_spectrum_3d,
    mosaic_height,
    new_figure,
    require,
    spectrum_group,
)
from exp2simgan_core.vocabulary import DIRECTIONS

CUT_MARKERS = ("o", "s", "^", "D")  # translations in the energy-cut figure


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
    fig = new_figure(3 * PANEL_WIDTH_IN + 2.4, mosaic_height(layout, PANEL_WIDTH_IN) + 0.9, caption)
    axes = fig.subplots(1, 3)
    titles = ("(pseudo-)experiment", "simulation, convolved", "simulation, unconvolved")
    for ax, image, title in zip(axes, (experiment, convolved, unconvolved), titles, strict=True):
        spectrum_group(fig, [ax], [image], [title], layout)
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
        require(example, keys, f"examples[{name!r}]")
        spectrum_group(fig, row[:1], [example[keys[0]]], [f"{name}: {titles[0]}"], layout)
        spectrum_group(fig, row[1:], [example[k] for k in keys[1:]], titles[1:], layout)


def _accuracy_cells(row: Mapping) -> list[str]:
    require(
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
    row_in = mosaic_height(layout, PANEL_WIDTH_IN) + 0.9
    table_in = 0.25 * (len(cells) + 1) + 0.5
    fig = new_figure(3 * PANEL_WIDTH_IN + 2.6, len(examples) * row_in + table_in, caption)
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
    fig = new_figure(4.2 * n_cols, 2.9 * len(rows) + 0.8, caption)
    axes = fig.subplots(len(rows), n_cols, squeeze=False)
    for row, (name, cuts) in zip(axes, rows.items(), strict=True):
        for ax, cut in zip(row, cuts, strict=False):
            require(cut, ("title", "energy_mev", "input", "truth", "translations"), name)
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
    row_in = mosaic_height(layout, PANEL_WIDTH_IN) + 0.9
    fig = new_figure(3 * PANEL_WIDTH_IN + 2.6, len(examples) * row_in, caption)
    titles = ("unconvolved input", "GAN-convolved", "true convolved")
    _translation_rows(examples, ("unconvolved", "convolved_gan", "convolved"), titles, layout, fig)
    return fig


def fig6(
    examples: Mapping[str, Mapping[str, np.ndarray]], layout3d: Layout3D, caption: str
) -> Figure:
    """Fig. 6: the 3D GAN; ``examples['exp2sim']`` and ``examples['sim2exp']`` each hold volumes
    ``input``, ``output`` (GAN) and ``target`` (truth) of ``layout3d.shape``, NaN-masked.
    Output and truth share a colour scale."""
    require(examples, tuple(DIRECTIONS), "examples")
    fig = new_figure(13.0, 2 * 3 * 2.6 + 0.8, caption)
    for sub, named in zip(fig.subfigures(2, 1), DIRECTIONS.values(), strict=True):
        volumes = examples[named.name]
        require(volumes, ("input", "output", "target"), f"examples[{named.name!r}]")
        sub.suptitle(named.title, fontsize=11)
        axes = sub.subplots(3, 4)
        ims = draw_spectrum_3d(axes[0], volumes["input"], layout3d, row_label="input")
        sub.colorbar(ims[-1], ax=list(axes[0]), label=INTENSITY_LABEL, shrink=0.8)
        vmax = colour_max(volumes["output"], volumes["target"])
        for row, key, label in ((axes[1], "output", "GAN output"), (axes[2], "target", "truth")):
            ims = draw_spectrum_3d(row, volumes[key], layout3d, vmax=vmax, row_label=label)
        sub.colorbar(ims[-1], ax=list(axes[1:].ravel()), label=INTENSITY_LABEL, shrink=0.8)
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
    hist_in, spec_in = 1.9 * n_cls, (mosaic_height(layout, PANEL_WIDTH_IN) + 0.9) * n_cls
    fig = new_figure(max(2 * PANEL_WIDTH_IN + 2.0, 2.0 * n_par), hist_in + spec_in, caption)
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
        spectrum_group(bottom, spec_axes[i, :1], [convolved], [f"{cls}: convolved"], layout)
        spectrum_group(bottom, spec_axes[i, 1:], [unconvolved], [f"{cls}: unconvolved"], layout)
    return fig
