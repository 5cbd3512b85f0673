"""Simulation stage: sharded training pairs, their merge and train/test split, the reference
sets and a user's spectra imported into the project's layout.

Shard ``i`` of model class or reference set ``name`` draws from ``simulate.stream_rng(seed, name,
i)``; the train/test split from the named stream ``"dataset/split"``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from exp2simgan_core import streams
from exp2simgan_core.io import (
    DataFileError,
    H5Data,
    check_writable,
    read_h5,
    write_h5,
)
from exp2simgan_core.physics.experiment import make_experiment_like
from exp2simgan_core.physics.layout import Layout2D, Layout3D
from exp2simgan_core.physics.models import NEGATIVE_CONTROL_MODELS, get_model
from exp2simgan_core.physics.spectra import SpectrumCalculator
from exp2simgan_core.simulate import (
    REFERENCE_KINDS,
    SimulationSettings,
    draw_spectra,
    stream_rng,
)
from exp2simgan_core.user_spectra import load_user_spectrum
from exp2simgan_core.vocabulary import CLASSES, DOMAINS

log = logging.getLogger(__name__)

PER_SHARD_ATTRS = ("shard", "n_rejected_unstable")  # attributes that differ between shards


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


def merge_shards(paths: Sequence[str | Path], out_path: str | Path) -> None:
    """Concatenate the datasets of simulation shards of one class, in the order given.

    Every shard must hold the same datasets (dtype and per-spectrum shape) and the same attributes
    except ``PER_SHARD_ATTRS``; the merged file keeps the common attributes and lists the shards'
    own under 'shards'. Raises ``DataFileError`` naming the first shard that disagrees.
    """
    check_writable(out_path)
    if not paths:
        raise ValueError("merge_shards needs at least one shard")
    shards = [read_h5(p) for p in paths]
    first = shards[0]
    common = {k: v for k, v in first.attrs.items() if k not in PER_SHARD_ATTRS}
    for shard in shards[1:]:
        _check_same_layout(first, shard)
        own = {k: v for k, v in shard.attrs.items() if k not in PER_SHARD_ATTRS}
        if own != common:
            differ = sorted(k for k in own.keys() | common.keys() if own.get(k) != common.get(k))
            raise DataFileError(
                f"{shard.path}: attribute(s) {', '.join(differ)} differ from {first.path}; "
                "shards of one class must come from one configuration"
            )
    datasets = {name: np.concatenate([s.datasets[name] for s in shards]) for name in first.datasets}
    attrs = {
        **common,
        "shards": [
            {"file": s.path.name, "n": _n_rows(s)}
            | {k: s.attrs[k] for k in PER_SHARD_ATTRS if k in s.attrs}
            for s in shards
        ],
    }
    write_h5(out_path, datasets, attrs)


def _n_rows(data: H5Data) -> int:
    return len(next(iter(data.datasets.values())))


def _check_same_layout(first: H5Data, other: H5Data) -> None:
    if set(other.datasets) != set(first.datasets):
        raise DataFileError(
            f"{other.path}: datasets {sorted(other.datasets)} differ from {sorted(first.datasets)} "
            f"in {first.path}"
        )
    n = _n_rows(other)
    for name, array in other.datasets.items():
        ref = first.datasets[name]
        if array.dtype != ref.dtype or array.shape[1:] != ref.shape[1:] or len(array) != n:
            raise DataFileError(
                f"{other.path}: dataset '{name}' is {array.dtype} {array.shape}, "
                f"not {ref.dtype} (n, {', '.join(map(str, ref.shape[1:]))}) with n = {n}"
            )


def split_train_test(
    in_paths: Sequence[str | Path],
    train_path: str | Path,
    test_path: str | Path,
    test_fraction: float,
    seed: int,
) -> None:
    """Split simulated spectra into train and test files, stratified by model class.

    ``in_paths`` holds one merged file per model class (attribute 'model'); the class of
    ``in_paths[i]`` gets label ``i``. In each class, ``round(test_fraction * n)`` spectra (at least
    one, and at least one left for training) chosen by a seeded permutation go to the test file.
    Rows keep their class order and, within a class, their original order. Attributes that agree
    between classes are kept; the others (model, parameter names) go under 'per_class'.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction} must be in (0, 1)")
    for out in (train_path, test_path):
        check_writable(out)
    classes = [read_h5(p, required=DOMAINS) for p in in_paths]
    names = []
    for data in classes:
        if "model" not in data.attrs:
            raise DataFileError(f"{data.path}: no 'model' attribute naming its model class")
        names.append(data.attrs["model"])
    if len(set(names)) != len(names):
        raise ValueError(f"split_train_test: model classes {names} repeat; give one file per class")
    rng = streams.rng(seed, "dataset/split")
    parts: dict[str, list[dict[str, np.ndarray]]] = {"train": [], "test": []}
    for label, data in enumerate(classes):
        n = _n_rows(data)
        if n < 2:
            raise DataFileError(f"{data.path}: {n} spectrum; a class needs 2 to be split")
        n_test = min(max(round(test_fraction * n), 1), n - 1)
        order = rng.permutation(n)
        chosen = {"test": np.sort(order[:n_test]), "train": np.sort(order[n_test:])}
        for split, rows in chosen.items():
            part = {name: array[rows] for name, array in data.datasets.items()}
            part["label"] = np.full(len(rows), label, dtype=np.int64)
            part["source_index"] = rows.astype(np.int64)
            parts[split].append(part)
    attrs = _class_attrs(classes)
    attrs.update(classes=names, seed=seed, test_fraction=test_fraction)
    for split, path in (("train", train_path), ("test", test_path)):
        datasets = {
            name: np.concatenate([p[name] for p in parts[split]]) for name in parts[split][0]
        }
        write_h5(path, datasets, {**attrs, "split": split})


def _class_attrs(classes: Sequence[H5Data]) -> dict[str, Any]:
    """Attributes common to all classes, plus 'per_class' {model: the attributes that differ}."""
    keys = set().union(*(c.attrs for c in classes)) - {"code_version"}
    common = {
        k for k in keys if all(k in c.attrs and c.attrs[k] == classes[0].attrs[k] for c in classes)
    }
    attrs = {k: classes[0].attrs[k] for k in sorted(common)}
    attrs["per_class"] = {
        c.attrs["model"]: {k: c.attrs[k] for k in sorted(keys - common) if k in c.attrs}
        for c in classes
    }
    return attrs


def import_user_spectrum(
    path: str | Path, name: str, layout: Layout2D | tuple[int, int], out_path: str | Path
) -> None:
    """Check a user's measured spectrum and store it like a reference set.

    Writes 'spectra' (1, rows, cols) float32 in the run's ``layout``, NaN where uncovered (see
    ``read_user_spectrum``: a 240 x 400 spectrum of the paper's layout is rebinned into a run of
    another layout), with attributes kind 'user', ``name`` and the absolute source path, plus
    ``rebinned_from``, ``rebin_source_layout`` and ``rebin_rule`` when it was rebinned.
    """
    check_writable(out_path)
    spectrum, rebin_attrs = load_user_spectrum(path, layout)
    attrs = {"kind": "user", "name": name, "source": str(Path(path).resolve()), **rebin_attrs}
    write_h5(out_path, {"spectra": spectrum[np.newaxis]}, attrs)
