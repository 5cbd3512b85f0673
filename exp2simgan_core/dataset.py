"""Training data sets: merge simulation shards, split train/test, crop GAN patches.

Files are HDF5 written by ``exp2simgan_core.io.write_h5``. A simulated file holds the paired
datasets 'convolved' and 'unconvolved' (n, rows, cols) float32, NaN where uncovered, and 'params'
(n, n_params) float64 in meV. Train and test files add 'label' (n,) int64, the index of the model
class in their 'classes' attribute, and 'source_index' (n,) int64, the row in that class's file.

The train/test split draws from the named stream ``"dataset/split"``, the patch crops from
``"dataset/patches"`` (``exp2simgan_core.streams``), so the run's one seed fixes both.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from exp2simgan_core import streams
from exp2simgan_core.io import (
    DataFileError,
    H5Data,
    check_writable,
    load_user_spectrum,
    read_h5,
    write_h5,
)
from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.vocabulary import DOMAINS

log = logging.getLogger(__name__)

FILL_VALUE = 0.0  # what an uncovered (NaN) pixel becomes before it enters a network
INTENSITY_RULE = "spectrum / its mean over covered bins"  # what networks read (``normalised``)
PER_SHARD_ATTRS = ("shard", "n_rejected_unstable")  # attributes that differ between shards


def fill_masked(x: np.ndarray) -> np.ndarray:
    """The project's one fill rule for uncovered pixels: NaN -> ``FILL_VALUE`` (0.0).

    Zero is the value of no scattering and the value the community's 240 x 400 files use where
    there is no detector. Every network input (GAN, classifier) goes through this function.
    Returns a float32 copy of ``x`` (any shape).
    """
    x = np.asarray(x, dtype=np.float32)
    return np.where(np.isnan(x), np.float32(FILL_VALUE), x)


def intensity_unit(spectra: np.ndarray) -> np.ndarray:
    """Each spectrum's mean intensity over its covered bins: (n, *S) -> (n,) float32.

    Every network reads spectra in this unit (``normalised``), so its output does not depend on
    the unit of the data (counts, mbarn/sr/meV/f.u., the simulation's S per meV). Resolution
    convolution conserves spectral weight, so a spectrum's convolved and unconvolved versions
    share their unit (to 0.1 % on the simulated pairs, where they share the coverage mask).
    Raises ValueError naming the first spectrum whose covered mean is not positive and finite
    (Inf in a covered bin).
    """
    x = np.asarray(spectra, dtype=np.float64)
    covered = ~np.isnan(x)
    axes = tuple(range(1, x.ndim))
    unit = np.where(covered, x, 0.0).sum(axis=axes) / np.maximum(covered.sum(axis=axes), 1)
    bad = np.flatnonzero(~((unit > 0) & np.isfinite(unit)))
    if len(bad):
        raise ValueError(
            f"spectrum {int(bad[0])} has no positive, finite mean intensity over its covered "
            f"bins ({unit[bad[0]]:g}); it cannot be normalised"
        )
    return unit.astype(np.float32)


def normalised(spectra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``fill_masked(spectra / unit)``, ``unit``) for (n, *S) spectra: what networks read.

    ``unit`` is ``intensity_unit(spectra)``, shape (n,); multiply a network's output by it
    (broadcast over the spectrum's axes) to return to the input's unit.
    """
    unit = intensity_unit(spectra)
    shape = (-1,) + (1,) * (np.ndim(spectra) - 1)
    return fill_masked(np.asarray(spectra, dtype=np.float32) / unit.reshape(shape)), unit


def check_spectra(
    spectra: np.ndarray, shape: tuple[int, ...] | None = None, what: str = "spectra"
) -> np.ndarray:
    """Float32 copy of a stack of 2D spectra (n, rows, cols), NaN = uncovered, checked.

    Raises ValueError naming the problem: another rank, a shape other than ``shape`` (rows, cols)
    when given (``what`` names what expects it), Inf, or a spectrum that is NaN everywhere.
    """
    spectra = np.asarray(spectra, dtype=np.float32)
    if spectra.ndim != 3:
        raise ValueError(
            f"spectra must have shape (n, rows, cols), got shape {spectra.shape}; "
            "wrap a single spectrum as spectrum[None]"
        )
    if shape is not None and spectra.shape[1:] != tuple(shape):
        raise ValueError(
            f"spectra are {spectra.shape[1]} x {spectra.shape[2]} pixels but {what} expects "
            f"{shape[0]} x {shape[1]}"
        )
    infinite = np.isinf(spectra).any(axis=(1, 2))
    if infinite.any():
        raise ValueError(f"spectrum {int(np.argmax(infinite))} contains Inf; use NaN = uncovered")
    empty = np.isnan(spectra).all(axis=(1, 2))
    if empty.any():
        raise ValueError(f"spectrum {int(np.argmax(empty))} is NaN everywhere (no coverage)")
    return spectra


def network_input(x: np.ndarray, peak: float) -> np.ndarray:
    """The classifier's preprocessing: normalise, fill, clip, scale to [-1, 1].

    ``x``: (n, *S) intensities in any unit (NaN = uncovered); ``peak``: the normalised intensity
    that maps to 1 (the largest of the network's training data, in units of each spectrum's mean,
    ``normalised``). NaN becomes ``FILL_VALUE``, intensities are clipped to [0, peak], then mapped
    linearly 0 -> -1, peak -> 1. Returns float32.
    """
    if not peak > 0:
        raise ValueError(f"peak must be a positive intensity, got {peak}")
    clipped = np.clip(normalised(x)[0], np.float32(0.0), np.float32(peak))
    return clipped / np.float32(peak) * np.float32(2.0) - np.float32(1.0)


def shard_sizes(n_total: int, shard_size: int) -> list[int]:
    """Spectra per simulation shard: full shards of ``shard_size``, the last one the remainder.

    >>> shard_sizes(25, 10)
    [10, 10, 5]
    """
    if n_total < 1 or shard_size < 1:
        raise ValueError(f"n_total={n_total} and shard_size={shard_size} must both be >= 1")
    n_shards = math.ceil(n_total / shard_size)
    return [min(shard_size, n_total - i * shard_size) for i in range(n_shards)]


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


def extract_patches(
    train_path: str | Path, out_path: str | Path, n_patches: int, size: int, seed: int
) -> None:
    """Random aligned square (or cubic) crops of the paired training spectra, for GAN training.

    Each patch takes a training spectrum (image (rows, cols) or volume (H, K, E)) and a position
    uniformly at random and crops the same window of ``size`` bins along every axis from its
    'convolved' and 'unconvolved' spectra. Writes 'convolved', 'unconvolved' (n_patches, size,
    ...) float32, each divided by its source spectrum's ``intensity_unit`` (attribute
    'intensity') and filled by ``fill_masked``; 'covered' (same shape) bool, True where both
    inputs had data; 'source_index' (n_patches,) int64, the row in the training file; 'origin'
    (n_patches, dims) int64, the window's first bin along each axis; 'label' (n_patches,) int64.
    """
    if n_patches < 1:
        raise ValueError(f"n_patches={n_patches} must be >= 1")
    check_writable(out_path)
    train = read_h5(train_path, required=(*DOMAINS, "label"))
    convolved, unconvolved = train.datasets["convolved"], train.datasets["unconvolved"]
    n, spatial = convolved.shape[0], convolved.shape[1:]
    if not 1 <= size <= min(spatial):
        shape = " x ".join(map(str, spatial))
        raise ValueError(f"patch size {size} does not fit spectra of {shape} bins")
    rng = streams.rng(seed, "dataset/patches")
    index = rng.integers(0, n, size=n_patches)
    origin = np.stack([rng.integers(0, s - size + 1, size=n_patches) for s in spatial], axis=1)
    windows = [
        (int(i), *(slice(int(a), int(a) + size) for a in start))
        for i, start in zip(index, origin, strict=True)
    ]
    conv = np.stack([convolved[w] for w in windows])  # (n_patches, size, ...)
    unconv = np.stack([unconvolved[w] for w in windows])
    per_patch = (-1,) + (1,) * len(spatial)
    datasets = {
        "convolved": fill_masked(conv / intensity_unit(convolved)[index].reshape(per_patch)),
        "unconvolved": fill_masked(unconv / intensity_unit(unconvolved)[index].reshape(per_patch)),
        "covered": ~(np.isnan(conv) | np.isnan(unconv)),
        "source_index": index.astype(np.int64),
        "origin": origin.astype(np.int64),
        "label": train.datasets["label"][index],
    }
    attrs = {k: train.attrs[k] for k in ("classes", "settings") if k in train.attrs}
    attrs.update(
        source=str(train_path),
        size=size,
        seed=seed,
        fill_rule=f"NaN -> {FILL_VALUE} (exp2simgan_core.dataset.fill_masked)",
        intensity=INTENSITY_RULE,
    )
    write_h5(out_path, datasets, attrs)
    log.info("%d patches of %d bins per axis from %d spectra", n_patches, size, n)


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
