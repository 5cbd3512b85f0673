"""File-level figure stages: read the workflow's outputs, draw with ``plotting``, save PDF + PNG.

Each ``make_*`` function takes the files one figure needs and writes ``pdf`` and ``png``. Example
spectra are the first test spectrum of each class (the test order is a seeded shuffle), so every
figure of one run shows the same spectra. Captions name the preset, seed and checkpoint.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from exp2simgan_core import plotting
from exp2simgan_core.applicability import Zones, read_distances
from exp2simgan_core.io import check_writable, read_h5, read_torch_file
from exp2simgan_core.physics.layout import Layout2D, Layout3D
from exp2simgan_core.vocabulary import DIRECTIONS, DOMAINS

Path_ = str | Path
ENERGY_CUTS = 3  # cuts per class of the 2D spectra in the energy-cut figure
CUT_LABELS = {"gan": "GAN-deconvolved", "richardson_lucy": "Richardson-Lucy", "wiener": "Wiener"}
ZONE_NOTE = (
    "Shaded zones: thresholds for sets of the full draw size; a smaller set (one spectrum) is "
    "zoned with thresholds calibrated at its own size (tables/applicability_zones.json)"
)


def caption(preset: str, seed: int, checkpoint: Path_ | None = None, note: str = "") -> str:
    """The footer every figure carries: preset, seed, checkpoint and an optional note."""
    parts = [f"preset {preset}", f"seed {seed}"]
    if checkpoint is not None:
        parts.append(f"checkpoint {_checkpoint_name(checkpoint)}")
    return ", ".join(parts) + (f". {note}" if note else "")


def _checkpoint_name(path: Path_) -> str:
    """'selected.pt (iteration 1600)': the file and the training iteration it was saved at,
    and the back-translation iterations of its Exp2Sim generator if any."""
    state = read_torch_file(path, "checkpoint")
    extra = state.get("back_translation", {}).get("iterations", 0)
    note = f"; Exp2Sim back-translated, {extra} iterations" if extra else ""
    return f"{Path(path).name} (iteration {int(state['iteration'])}{note})"


def read_csv(path: Path_) -> list[dict]:
    """Rows of a CSV with numbers converted (int, float; '' -> None; 'True'/'False' -> bool)."""

    def value(text: str):
        if text == "":
            return None
        if text in ("True", "False"):
            return text == "True"
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    with open(path, newline="") as f:
        return [{k: value(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _save(fig, pdf: Path_, png: Path_) -> None:
    for out in (pdf, png):
        check_writable(out)
    plotting.save_figure(fig, pdf, png)


def _first_per_class(test_path: Path_) -> dict[str, int]:
    """Index of the first test spectrum of each class, by class name."""
    test = read_h5(test_path, required=("label",))
    labels = test.datasets["label"]
    return {c: int(np.flatnonzero(labels == i)[0]) for i, c in enumerate(test.attrs["classes"])}


def make_fig2(
    experiment: Path_, test: Path_, layout: Layout2D, text: str, pdf: Path_, png: Path_
) -> None:
    """Fig. 2: the (pseudo-)experiment beside a Goodenough test pair (else the first pair)."""
    picks = _first_per_class(test)
    i = picks.get("goodenough", min(picks.values()))
    pair = read_h5(test, required=DOMAINS).datasets
    spectrum = read_h5(experiment, required=("spectra",)).datasets["spectra"][0]
    fig = plotting.fig2(spectrum, pair["convolved"][i], pair["unconvolved"][i], layout, text)
    _save(fig, pdf, png)


def make_fig4(
    test: Path_,
    deconvolved: Path_,
    accuracy_csv: Path_,
    layout: Layout2D,
    text: str,
    pdf: Path_,
    png: Path_,
) -> None:
    """Fig. 4: per class, convolved test input | Exp2Sim output | truth; the accuracy table."""
    pair = read_h5(test, required=DOMAINS).datasets
    gan = read_h5(deconvolved, required=("spectra",)).datasets["spectra"]
    examples = {
        c: {
            "convolved": pair["convolved"][i],
            "deconvolved": gan[i],
            "unconvolved": pair["unconvolved"][i],
        }
        for c, i in _first_per_class(test).items()
    }
    fig = plotting.fig4(examples, layout, read_csv(accuracy_csv), text)
    _save(fig, pdf, png)


def energy_profiles(spectra: np.ndarray, layout: Layout2D | Layout3D) -> np.ndarray:
    """Spectra as energy profiles, shape (..., n_groups, n_pix, n_pix, n_e): intensity against
    energy transfer at each (H, K) pixel of each group (a 2D image's Ei rows; a 3D volume's one
    incident energy). ``spectra``: (..., *layout.shape)."""
    spectra = np.asarray(spectra)
    if isinstance(layout, Layout3D):
        return spectra[..., None, :, :, :]
    return np.moveaxis(layout.split(spectra), -3, -1)


def energy_centres(layout: Layout2D | Layout3D, group: int) -> np.ndarray:
    """Energy-bin centres (meV) of one group of ``energy_profiles``."""
    edges = (
        layout.ebin_edges()
        if isinstance(layout, Layout3D)
        else layout.ebin_edges(layout.ei_mev[group])
    )
    return 0.5 * (edges[:-1] + edges[1:])


def largest_change_cuts(
    convolved: np.ndarray, unconvolved: np.ndarray, layout: Layout2D | Layout3D, n_cuts: int
) -> list[tuple[int, int, int]]:
    """The constant-(H, K) energy cuts of one spectrum pair that the convolution changed most.

    A cut ``(group, h, k)`` is the intensity against energy transfer at pixel (h, k) of one
    group of ``energy_profiles`` (a 2D image's Ei row; 3D: group 0); its change is the sum over
    covered bins of (unconvolved - convolved)^2. Returns, for the ``n_cuts`` groups whose largest
    change is biggest (in decreasing order), that group's largest-change cut. Chosen from the
    pair alone, never from a translation, so the cuts do not favour any method.
    """
    change = energy_profiles(np.asarray(unconvolved, float) - convolved, layout)
    change = np.nansum(change**2, axis=-1).reshape(len(change), -1)  # (group, h * n_pix + k)
    if not 1 <= n_cuts <= len(change):
        raise ValueError(f"n_cuts must be in [1, {len(change)}] (one per group), got {n_cuts}")
    groups = np.argsort(-change.max(axis=1), kind="stable")[:n_cuts]
    return [(int(g), *divmod(int(change[g].argmax()), layout.n_pix)) for g in groups]


@dataclass(frozen=True)
class CutSource:
    """The test pairs of one representation and their Exp2Sim deconvolutions.

    ``deconvolved``: method name (a method of ``quality_csv``, the representation's
    ``translation_quality.csv``) -> file of its test-set deconvolutions. ``n_cuts``: cuts per
    class (at most one per group of ``energy_profiles``). ``label``: names the representation in
    titles and legend entries ("" for none).
    """

    test: Path_
    deconvolved: Mapping[str, Path_]
    quality_csv: Path_
    layout: Layout2D | Layout3D
    n_cuts: int
    label: str = ""


def _cut_label(rows: list[dict], method: str, label: str) -> str:
    """``label`` with the test set's mean change cosine and size of ``method`` (Exp2Sim, all)."""
    for r in rows:
        if (r["method"], r["direction"], r["model_class"]) == (method, "exp2sim", "all"):
            return f"{label} (cos {r['change_cosine']:.2f}, size {r['change_size']:.2f})"
    raise ValueError(f"no Exp2Sim row for all classes of method {method!r} in the quality table")


def _cuts(source: CutSource) -> dict[str, list[dict]]:
    """Class name -> the ``plotting.energy_cuts`` cuts of that class's first test pair."""
    pair = read_h5(source.test, required=DOMAINS).datasets
    rows = read_csv(source.quality_csv)
    tag = f" {source.label}" if source.label else ""
    methods = {
        _cut_label(rows, m, CUT_LABELS.get(m, m) + tag): energy_profiles(
            read_h5(path, required=("spectra",)).datasets["spectra"], source.layout
        )
        for m, path in source.deconvolved.items()
    }
    hk = source.layout.hk_centres()
    n_groups = 1 if isinstance(source.layout, Layout3D) else len(source.layout.ei_mev)
    out = {}
    for name, i in _first_per_class(source.test).items():
        conv, unconv = pair["convolved"][i], pair["unconvolved"][i]
        profiles = {k: energy_profiles(v, source.layout) for k, v in (("c", conv), ("u", unconv))}
        cuts = []
        for g, h, k in largest_change_cuts(
            conv, unconv, source.layout, min(source.n_cuts, n_groups)
        ):
            ei = (
                source.layout.ei_mev
                if isinstance(source.layout, Layout3D)
                else (source.layout.ei_mev[g])
            )
            cuts.append(
                {
                    "title": f"{name}{tag}: $E_i$ = {ei:g} meV, "
                    f"(H, K) = ({hk[h]:.2f}, {hk[k]:.2f})",
                    "energy_mev": energy_centres(source.layout, g),
                    "input": profiles["c"][g, h, k],
                    "truth": profiles["u"][g, h, k],
                    "translations": {label: m[i, g, h, k] for label, m in methods.items()},
                }
            )
        out[name] = cuts
    return out


def make_energy_cuts(
    image: CutSource, volume: CutSource | None, text: str, pdf: Path_, png: Path_
) -> None:
    """Constant-(H, K) energy cuts of the first test pair of each class: convolved input, each
    method's Exp2Sim deconvolution and the truth, at the cuts ``largest_change_cuts`` picks.

    One row per class of the 2D ``image`` source; the 3D ``volume`` source, if given, adds one
    row with each class's cuts side by side. Each legend entry gives the method's mean change
    cosine and size over its test set (``gan.translate.change_agreement``).
    """
    rows = _cuts(image)
    if volume is not None:
        rows[f"volume {volume.label}"] = [c for cuts in _cuts(volume).values() for c in cuts]
    _save(plotting.energy_cuts(rows, text), pdf, png)


def make_esi_b(
    test: Path_, convolved_gan: Path_, layout: Layout2D, text: str, pdf: Path_, png: Path_
) -> None:
    """ESI B: per class, unconvolved test input | Sim2Exp output | true convolved."""
    pair = read_h5(test, required=DOMAINS).datasets
    gan = read_h5(convolved_gan, required=("spectra",)).datasets["spectra"]
    examples = {
        c: {
            "unconvolved": pair["unconvolved"][i],
            "convolved_gan": gan[i],
            "convolved": pair["convolved"][i],
        }
        for c, i in _first_per_class(test).items()
    }
    _save(plotting.esi_b(examples, layout, text), pdf, png)


def _kernels(rows: list[dict], spectrum: str, translation: str) -> tuple[float, float]:
    """(k_dimer, k_goodenough) of the classifier trained on unconvolved spectra."""
    for r in rows:
        if (r["spectrum"], r["translation"], r["trained_on"]) == (
            spectrum,
            translation,
            "unconvolved",
        ):
            return r["k_dimer"], r["k_goodenough"]
    raise ValueError(f"no kernel values for {spectrum} ({translation}) in the DUQ table")


def make_fig5(
    spectra: Mapping[str, tuple[Path_, Path_]],
    kernels_csv: Path_,
    distances: Path_,
    layout: Layout2D,
    text: str,
    pdf: Path_,
    png: Path_,
) -> None:
    """Fig. 5: experiment and negative control (first spectrum of each), raw and deconvolved,
    with the kernel values of the DUQ trained on unconvolved spectra; the Exp2Sim ridgeline.

    ``spectra``: 'experiment' and 'negative_control' -> (raw file, Exp2Sim translation file).
    """
    rows = read_csv(kernels_csv)
    panels = {}
    for name in ("experiment", "negative_control"):
        raw, translated = spectra[name]
        panels[name] = {
            "raw": read_h5(raw, required=("spectra",)).datasets["spectra"][0],
            "deconvolved": read_h5(translated, required=("spectra",)).datasets["spectra"][0],
            "kernels_raw": _kernels(rows, f"{name}_0", "raw"),
            "kernels_deconvolved": _kernels(rows, f"{name}_0", "gan_deconvolved"),
        }
    record = read_distances(distances)
    fig = plotting.fig5(
        panels["experiment"],
        panels["negative_control"],
        record.distances,
        _zone_dict(record.zones, distances),
        layout,
        text,
    )
    _save(fig, pdf, png)


def _zone_dict(zones: Zones | None, path: Path_) -> dict:
    if zones is None:
        raise ValueError(f"{path} holds no calibrated zones")
    return {"trust_max": zones.trust_max, "untrust_min": zones.untrust_min}


def make_esi_applicability(distances: Path_, text: str, pdf: Path_, png: Path_) -> None:
    """ESI C or D: the ridgeline of one direction's distance file, with its zones."""
    record = read_distances(distances)
    fig = plotting.esi_applicability(
        {record.direction: record.distances},
        {record.direction: _zone_dict(record.zones, distances)},
        text,
    )
    _save(fig, pdf, png)


def make_fig6(
    test: Path_,
    translated: Mapping[str, Path_],
    layout3d: Layout3D,
    text: str,
    pdf: Path_,
    png: Path_,
) -> None:
    """Fig. 6: the first test volume, Exp2Sim (convolved -> unconvolved) and Sim2Exp, each as
    input | GAN output | truth. ``translated``: direction -> translation of the test volumes."""
    pair = read_h5(test, required=DOMAINS).datasets
    examples = {
        direction: {
            "input": pair[named.source][0],
            "output": read_h5(translated[direction], required=("spectra",)).datasets["spectra"][0],
            "target": pair[named.target][0],
        }
        for direction, named in DIRECTIONS.items()
    }
    _save(plotting.fig6(examples, layout3d, text), pdf, png)


def make_training(
    losses_csv: Path_, selection_csv: Path_, text: str, pdf: Path_, png: Path_
) -> None:
    """Loss curves and the Fréchet distance per checkpoint, the selected checkpoint marked."""
    rows = read_csv(losses_csv)
    losses = {k: np.array([r[k] for r in rows], dtype=float) for k in rows[0]}
    selection = read_csv(selection_csv)
    chosen = {r["direction"]: r["iteration"] for r in selection if r["selected"]}
    _save(plotting.training_figure(losses, selection, chosen, text), pdf, png)


def make_data_overview(
    simulated: Mapping[str, Path_], layout: Layout2D, text: str, pdf: Path_, png: Path_
) -> None:
    """Parameter histograms and one (convolved, unconvolved) example per model class."""
    data = {c: read_h5(p, required=("params", *DOMAINS)) for c, p in simulated.items()}
    params = {c: d.datasets["params"] for c, d in data.items()}
    names = {c: list(d.attrs["param_names"]) for c, d in data.items()}
    examples = {
        c: (d.datasets["convolved"][0], d.datasets["unconvolved"][0]) for c, d in data.items()
    }
    _save(plotting.data_overview(params, names, examples, layout, text), pdf, png)
