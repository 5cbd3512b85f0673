"""The project's data files and what a network reads from them.

Files are HDF5 written by ``exp2simgan_core.io.write_h5``. A simulated file holds the paired
datasets 'convolved' and 'unconvolved' (n, rows, cols) float32, NaN where uncovered, and 'params'
(n, n_params) float64 in meV. Train and test files add 'label' (n,) int64, the index of the model
class in their 'classes' attribute, and 'source_index' (n,) int64, the row in that class's file.

Reference sets, user spectra and translations hold one dataset 'spectra' instead (``spectra_for``).
Merging, splitting and cropping are stages (``exp2simgan_core.stages.simulate``, ``.patches``).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from exp2simgan_core.io import (
    DataFileError,
    read_h5,
)
from exp2simgan_core.vocabulary import direction as get_direction

NEGATIVE_TOLERANCE = 0.05  # negatives down to this fraction of a spectrum's maximum are noise

log = logging.getLogger(__name__)

FILL_VALUE = 0.0  # what an uncovered (NaN) pixel becomes before it enters a network
INTENSITY_RULE = "spectrum / its mean over covered bins"  # what networks read (``normalised``)


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
    spectra: np.ndarray,
    shape: tuple[int, ...] | None = None,
    what: str = "this step",
    dims: int = 2,
) -> np.ndarray:
    """Float32 copy of a stack of spectra, NaN = uncovered, checked: images (n, rows, cols) for
    ``dims`` 2, volumes (n, H, K, E) for ``dims`` 3.

    Raises ValueError naming the problem and ``what`` expects the spectra: values that are not
    real numbers, another rank, no spectrum, a shape other than ``shape`` (the spectrum's axes)
    when given, Inf, or a spectrum that is NaN everywhere.
    """
    x = np.asarray(spectra)
    axes = {2: "(n, rows, cols)", 3: "(n, H, K, E)"}[dims]
    if x.dtype.kind not in "iuf":
        raise ValueError(f"spectra must be real numbers, got dtype {x.dtype}")
    if x.ndim != dims + 1:
        raise ValueError(
            f"{what} expects spectra of shape {axes}, got shape {x.shape}; wrap a single "
            "spectrum as spectrum[None]"
        )
    if len(x) == 0:
        raise ValueError(f"no spectrum: an empty stack of shape {x.shape}")
    if shape is not None and x.shape[1:] != tuple(shape):
        size, unit = " x ".join(map(str, x.shape[1:])), "pixels" if dims == 2 else "bins"
        raise ValueError(
            f"spectra are {size} {unit} but {what} expects {' x '.join(map(str, shape))}"
        )
    x = x.astype(np.float32)
    per_spectrum = tuple(range(1, x.ndim))
    infinite = np.isinf(x).any(axis=per_spectrum)
    if infinite.any():
        raise ValueError(f"spectrum {int(np.argmax(infinite))} contains Inf; use NaN = uncovered")
    empty = np.isnan(x).all(axis=per_spectrum)
    if empty.any():
        raise ValueError(f"spectrum {int(np.argmax(empty))} is NaN everywhere (no covered bin)")
    return x


INTENSITY_SCALES = ("linear", "sqrt")  # how network_input maps normalised intensity to [-1, 1]


def network_input(x: np.ndarray, peak: float, scale: str = "linear") -> np.ndarray:
    """The classifier's preprocessing: normalise, fill, clip, scale to [-1, 1].

    ``x``: (n, *S) intensities in any unit (NaN = uncovered); ``peak``: the normalised intensity
    that maps to 1 (the largest of the network's training data, in units of each spectrum's mean,
    ``normalised``). NaN becomes ``FILL_VALUE``, intensities are clipped to [0, peak] (so a
    negative bin left by background subtraction reads as 0), then ``u = clipped / peak`` is
    mapped to ``2 u - 1`` (``scale`` "linear") or ``2 sqrt(u) - 1`` ("sqrt"). The square root is
    the variance-stabilising transform of counting data: a bin's Poisson noise becomes about the
    same size at every intensity, and the weak features of a spectrum whose peak is tens of times
    its mean are no longer squeezed into the bottom percent of the range. Returns float32.
    """
    if not peak > 0:
        raise ValueError(f"peak must be a positive intensity, got {peak}")
    if scale not in INTENSITY_SCALES:
        raise ValueError(f"scale must be one of {INTENSITY_SCALES}, got {scale!r}")
    u = np.clip(normalised(x)[0], np.float32(0.0), np.float32(peak)) / np.float32(peak)
    if scale == "sqrt":
        u = np.sqrt(u)
    return u * np.float32(2.0) - np.float32(1.0)


def shard_sizes(n_total: int, shard_size: int) -> list[int]:
    """Spectra per simulation shard: full shards of ``shard_size``, the last one the remainder.

    >>> shard_sizes(25, 10)
    [10, 10, 5]
    """
    if n_total < 1 or shard_size < 1:
        raise ValueError(f"n_total={n_total} and shard_size={shard_size} must both be >= 1")
    n_shards = math.ceil(n_total / shard_size)
    return [min(shard_size, n_total - i * shard_size) for i in range(n_shards)]


def spectra_for(path: str | Path, direction: str) -> np.ndarray:
    """(n, *S) float32 spectra a ``direction`` reads from a project file.

    Dataset 'spectra' when the file has one (reference sets, user spectra, translations), otherwise
    the dataset of the direction's input domain ('convolved' for exp2sim, 'unconvolved' for
    sim2exp: the train and test files).
    """
    source = get_direction(direction).source
    datasets = read_h5(path).datasets
    for name in ("spectra", source):
        if name in datasets:
            return datasets[name]
    raise DataFileError(
        f"{path}: needs a dataset 'spectra' or '{source}' for {direction} "
        f"(it has: {', '.join(sorted(datasets)) or 'none'})"
    )
