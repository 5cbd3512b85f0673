"""File-level classification stages: far-away image sets, DUQ training, the accuracy table.

The paper's table (DESIGN.md section 7) evaluates two DUQ classifiers, one trained on unconvolved
and one on convolved training spectra, on the held-out test pairs as they are and after GAN
translation; the classical deconvolutions (``baselines``) add two rows. Test sets are named by
what the classifier sees (``EVALUATED_ON``):

* ``unconvolved`` / ``convolved``: the test file's datasets;
* ``gan_deconvolved``: Exp2Sim of the convolved test spectra; ``gan_convolved``: Sim2Exp of the
  unconvolved ones;
* ``richardson_lucy`` / ``wiener``: the convolved test spectra deconvolved by the baseline.

Accuracies are fractions with a Wilson 95 % interval (``duq.accuracy_with_ci``). A translated
or deconvolved test set holds the same spectra as its raw one (``RAW_OF``), so its row is also
compared with the same classifier's raw row spectrum by spectrum: how many spectra the translation
fixed and broke, and McNemar's exact two-sided p-value (a binomial test of fixed against broken).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest

from exp2simgan_core import streams
from exp2simgan_core.baselines import (
    BaselineSettings,
    richardson_lucy_spectra,
    wiener_spectra,
)
from exp2simgan_core.duq import (
    DuqSettings,
    LoadedDuq,
    accuracy_with_ci,
    classify,
    load_duq,
    save_duq,
    train_duq,
)
from exp2simgan_core.io import check_writable, read_h5, write_csv, write_h5, write_text
from exp2simgan_core.ood import digits_images, photo_images
from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.util import resolve_device
from exp2simgan_core.vocabulary import CLASSES, DOMAINS

OOD_SETS = {"digits": digits_images, "photos": photo_images}
BASELINES = {"richardson_lucy": richardson_lucy_spectra, "wiener": wiener_spectra}
# (trained_on, evaluated_on, the paper's accuracy as a fraction or None)
ACCURACY_ROWS: tuple[tuple[str, str, float | None], ...] = (
    ("unconvolved", "unconvolved", 0.989),
    ("unconvolved", "convolved", 0.937),
    ("unconvolved", "gan_deconvolved", 0.960),
    ("convolved", "convolved", 0.986),
    ("convolved", "unconvolved", 0.718),
    ("convolved", "gan_convolved", 0.936),
    ("convolved", "gan_deconvolved", 0.751),
    ("unconvolved", "richardson_lucy", None),
    ("unconvolved", "wiener", None),
)
ACCURACY_COLUMNS = (
    "trained_on", "evaluated_on", "n_spectra", "accuracy", "ci_low", "ci_high", "paper_accuracy",
    "compared_with", "n_fixed", "n_broken", "p_paired",
)  # fmt: skip
# evaluated_on -> the raw test set it was made from (the rows compared spectrum by spectrum)
RAW_OF = {
    "gan_deconvolved": "convolved",
    "gan_convolved": "unconvolved",
    "richardson_lucy": "convolved",
    "wiener": "convolved",
}
HISTORY_COLUMNS = (
    "epoch", "train_loss", "train_bce", "train_penalty", "val_loss", "val_accuracy",
    "val_kernel_true", "val_kernel_other", "selected",
)  # fmt: skip
KERNEL_COLUMNS = ("spectrum", "translation", "trained_on", "k_dimer", "k_goodenough")
VERDICT_COLUMNS = (
    "trained_on", "set", "translation", "n_spectra", "n_dimer", "n_goodenough",
    "k_dimer_mean", "k_goodenough_mean",
)  # fmt: skip
CALIBRATION_COLUMNS = ("trained_on", "set", "n_spectra", "k_max_mean", "k_max_p10", "k_max_p90")
CLASS_ORDER = CLASSES  # kernel columns k_<class>


def write_ood_set(
    kind: str, n: int, layout: Layout2D, train_path: str | Path, seed: int, out_path: str | Path
) -> None:
    """Far-away images (``OOD_SETS``) in the layout's shape, spanning the training intensities.

    Values run from 0 to the largest convolved training intensity, so that intensity alone does
    not tell them apart. Writes dataset 'spectra' (n, rows, cols) float32.
    """
    if kind not in OOD_SETS:
        raise ValueError(f"unknown far-away set {kind!r}; choose one of {sorted(OOD_SETS)}")
    check_writable(out_path)
    train = read_h5(train_path, required=("convolved",)).datasets["convolved"]
    rng = streams.rng(seed, f"far_away/{kind}")
    images = OOD_SETS[kind](layout, n, rng, (0.0, float(np.nanmax(train))))
    write_h5(out_path, {"spectra": images}, {"kind": kind, "seed": seed})


def train_classifier(
    train_path: str | Path,
    domain: str,
    settings: DuqSettings,
    checkpoint: str | Path,
    history_csv: str | Path,
    device: str = "cpu",
) -> None:
    """Train a DUQ classifier on the ``domain`` spectra of the training file; save it and its
    per-epoch history (the selected epoch marked)."""
    if domain not in DOMAINS:
        raise ValueError(f"domain must be one of {DOMAINS}, got {domain!r}")
    for out in (checkpoint, history_csv):
        check_writable(out)
    data = read_h5(train_path, required=(domain, "label"))
    device = resolve_device(device)
    result = train_duq(
        settings,
        data.datasets[domain],
        data.datasets["label"],
        class_names=list(data.attrs["classes"]),
        device=device,
    )
    rows = [{**r, "selected": r["epoch"] == result.selected_epoch} for r in result.history]
    write_csv(history_csv, HISTORY_COLUMNS, rows)
    save_duq(checkpoint, result)


def deconvolve_baseline(
    method: str,
    test_path: str | Path,
    layout: Layout2D,
    out_path: str | Path,
    settings: BaselineSettings | None = None,
) -> None:
    """Deconvolve the convolved test spectra with a classical method; keep the labels."""
    if method not in BASELINES:
        raise ValueError(f"unknown baseline {method!r}; choose one of {sorted(BASELINES)}")
    check_writable(out_path)
    settings = settings or BaselineSettings(energy_width_factor=layout_width_factor(test_path))
    test = read_h5(test_path, required=("convolved", "label"))
    spectra = BASELINES[method](test.datasets["convolved"], layout, settings)
    attrs = {"method": method, "baseline": asdict(settings), "classes": test.attrs["classes"]}
    write_h5(out_path, {"spectra": spectra, "label": test.datasets["label"]}, attrs)


def layout_width_factor(path: str | Path) -> float:
    """The energy-width factor the spectra of ``path`` were simulated with (their attributes)."""
    return float(read_h5(path).attrs["settings"]["spectrum"]["energy_width_factor"])


def accuracy_rows(
    classifiers: Mapping[str, LoadedDuq],
    test_sets: Mapping[str, np.ndarray],
    labels: np.ndarray,
    device: str = "cpu",
) -> list[dict]:
    """One row per entry of ``ACCURACY_ROWS`` whose classifier and test set are given.

    ``classifiers``: trained_on -> classifier; ``test_sets``: evaluated_on -> (n, rows, cols)
    spectra, all in the order of ``labels`` (n,). Keys of each row: ``ACCURACY_COLUMNS``.
    """
    correct, rows = {}, []
    for trained_on, evaluated_on, paper in ACCURACY_ROWS:
        if trained_on not in classifiers or evaluated_on not in test_sets:
            continue
        predicted = classify(classifiers[trained_on], test_sets[evaluated_on], device=device)
        right = correct[trained_on, evaluated_on] = predicted.predicted == labels
        accuracy, low, high = accuracy_with_ci(right)
        row = {
            "trained_on": trained_on,
            "evaluated_on": evaluated_on,
            "n_spectra": len(labels),
            "accuracy": accuracy,
            "ci_low": low,
            "ci_high": high,
            "paper_accuracy": "" if paper is None else paper,
        }
        raw = correct.get((trained_on, RAW_OF.get(evaluated_on)))
        if raw is not None:
            row |= {"compared_with": RAW_OF[evaluated_on], **paired_change(raw, right)}
        rows.append(row)
    return rows


def paired_change(before: np.ndarray, after: np.ndarray) -> dict[str, int | float]:
    """Spectra right after but not before (fixed), the reverse (broken), McNemar's exact p.

    ``before``, ``after``: (n,) booleans, classification correct, of the same spectra. The
    p-value is two-sided: of a binomial test of n_fixed in n_fixed + n_broken at 1/2 (1 when no
    spectrum changed).
    """
    fixed = int(np.sum(~before & after))
    broken = int(np.sum(before & ~after))
    p = binomtest(fixed, fixed + broken, 0.5).pvalue if fixed + broken else 1.0
    return {"n_fixed": fixed, "n_broken": broken, "p_paired": float(p)}


def write_accuracy_table(
    classifier_paths: Mapping[str, str | Path],
    test_path: str | Path,
    evaluated_paths: Mapping[str, str | Path],
    csv_path: str | Path,
    markdown_path: str | Path,
    device: str = "cpu",
) -> list[dict]:
    """The accuracy table (CSV and Markdown) from saved classifiers and translated test sets.

    ``evaluated_paths``: evaluated_on -> a file whose 'spectra' are the test spectra in the test
    file's order (GAN translations, baseline deconvolutions); the test file supplies
    'unconvolved', 'convolved' and 'label'. Raises ValueError if a file's labels differ.
    """
    for out in (csv_path, markdown_path):
        check_writable(out)
    test = read_h5(test_path, required=(*DOMAINS, "label"))
    labels = test.datasets["label"]
    shape = test.datasets["convolved"].shape[1:]
    classifiers = {k: load_duq(p, expected_shape=shape) for k, p in classifier_paths.items()}
    sets = {d: test.datasets[d] for d in DOMAINS}
    for name, path in evaluated_paths.items():
        data = read_h5(path, required=("spectra", "label"), trailing_shape=shape)
        if not np.array_equal(data.datasets["label"], labels):
            raise ValueError(f"{path}: its labels are not those of {test_path} ({name})")
        sets[name] = data.datasets["spectra"]
    rows = accuracy_rows(classifiers, sets, labels, resolve_device(device))
    write_csv(csv_path, ACCURACY_COLUMNS, rows)
    _write_markdown(markdown_path, rows)
    return rows


def paired_text(row: Mapping[str, Any]) -> str:
    """'+12 / -3 vs unconvolved, p = 0.035' for a compared row (numbers or strings), else '-'."""
    if row.get("compared_with", "") in ("", None):
        return "-"
    return (
        f"+{row['n_fixed']} / -{row['n_broken']} vs {row['compared_with']}, "
        f"p = {float(row['p_paired']):.2g}"
    )


def _percent(value: float | str) -> str:
    return "" if value == "" else f"{100 * float(value):.1f} %"


def _write_markdown(path: str | Path, rows: Sequence[dict]) -> None:
    lines = [
        "| DUQ trained on | evaluated on | n | accuracy | 95 % CI | paper | against raw |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        ci = f"{_percent(r['ci_low'])} - {_percent(r['ci_high'])}"
        lines.append(
            f"| {r['trained_on']} | {r['evaluated_on']} | {r['n_spectra']} | "
            f"{_percent(r['accuracy'])} | {ci} | {_percent(r['paper_accuracy']) or '-'} | "
            f"{paired_text(r)} |"
        )
    write_text(path, "\n".join(lines) + "\n")


def kernel_rows(
    classifier: LoadedDuq, trained_on: str, spectra: Mapping[tuple[str, str], np.ndarray]
) -> list[dict]:
    """Per spectrum the kernel values: ``spectra`` maps (set name, translation) -> (n, *S).

    Spectrum names are ``<set>_<index>``; kernel columns follow ``CLASS_ORDER``.
    """
    columns = [classifier.class_names.index(c) for c in CLASS_ORDER]
    rows = []
    for (name, translation), x in spectra.items():
        kernels = classify(classifier, x).kernels[:, columns]
        for i, (k_dimer, k_goodenough) in enumerate(kernels):
            rows.append(
                {
                    "spectrum": f"{name}_{i}",
                    "translation": translation,
                    "trained_on": trained_on,
                    "k_dimer": float(k_dimer),
                    "k_goodenough": float(k_goodenough),
                }
            )
    return rows


def verdict_rows(kernels: Sequence[Mapping]) -> list[dict]:
    """Per (classifier, set, translation) of ``kernel_rows``: how many spectra each class wins
    (the larger kernel value) and the mean kernel values, e.g. the pseudo-experiment's noise
    realisations classified Goodenough in 9 of 10."""
    groups: dict[tuple[str, str, str], list[Mapping]] = {}
    for row in kernels:
        name = row["spectrum"].rsplit("_", 1)[0]
        groups.setdefault((row["trained_on"], name, row["translation"]), []).append(row)
    out = []
    for (trained_on, name, translation), rows in groups.items():
        k = np.array([[r["k_dimer"], r["k_goodenough"]] for r in rows], dtype=float)
        goodenough = int(np.sum(k[:, 1] > k[:, 0]))
        out.append(
            {
                "trained_on": trained_on,
                "set": name,
                "translation": translation,
                "n_spectra": len(rows),
                "n_dimer": len(rows) - goodenough,
                "n_goodenough": goodenough,
                "k_dimer_mean": float(k[:, 0].mean()),
                "k_goodenough_mean": float(k[:, 1].mean()),
            }
        )
    return out


def calibration_rows(
    classifier: LoadedDuq, trained_on: str, sets: Mapping[str, np.ndarray]
) -> list[dict]:
    """Distribution of the largest kernel value per set (mean, 10th and 90th percentiles)."""
    rows = []
    for name, x in sets.items():
        k_max = classify(classifier, x).certainty
        rows.append(
            {
                "trained_on": trained_on,
                "set": name,
                "n_spectra": len(k_max),
                "k_max_mean": float(k_max.mean()),
                "k_max_p10": float(np.percentile(k_max, 10)),
                "k_max_p90": float(np.percentile(k_max, 90)),
            }
        )
    return rows


def write_kernel_tables(
    classifier_paths: Mapping[str, str | Path],
    test_path: str | Path,
    reference_paths: Mapping[str, str | Path],
    translated_paths: Mapping[str, str | Path],
    kernels_csv: str | Path,
    calibration_csv: str | Path,
    verdicts_csv: str | Path,
) -> None:
    """Kernel values of the reference sets, raw and GAN-deconvolved, their per-set verdicts
    (``verdict_rows``) and the calibration table.

    ``reference_paths``: set -> file with 'spectra' (experiment, negative control, Rb2MnF4, far
    sets, user spectra); ``translated_paths``: set -> its Exp2Sim translation. Every classifier
    scores every set; the calibration table adds the classifier's own test domain as the
    in-distribution reference.
    """
    for out in (kernels_csv, calibration_csv, verdicts_csv):
        check_writable(out)
    test = read_h5(test_path, required=DOMAINS)
    shape = test.datasets["convolved"].shape[1:]
    raw = {
        k: read_h5(p, trailing_shape=shape).datasets["spectra"] for k, p in reference_paths.items()
    }
    translated = {
        k: read_h5(p, trailing_shape=shape).datasets["spectra"] for k, p in translated_paths.items()
    }
    kernels, calibration = [], []
    for trained_on, path in classifier_paths.items():
        classifier = load_duq(path, expected_shape=shape)
        named = {(k, "raw"): v for k, v in raw.items()}
        named |= {(k, "gan_deconvolved"): v for k, v in translated.items()}
        kernels += kernel_rows(classifier, trained_on, named)
        calibration += calibration_rows(
            classifier, trained_on, {f"test_{trained_on}": test.datasets[trained_on], **raw}
        )
    write_csv(kernels_csv, KERNEL_COLUMNS, kernels)
    write_csv(verdicts_csv, VERDICT_COLUMNS, verdict_rows(kernels))
    write_csv(calibration_csv, CALIBRATION_COLUMNS, calibration)
