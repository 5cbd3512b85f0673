"""Patch stage: random square (cubic) crops of the training spectra (volumes), the GAN's
training images, drawn from the named stream ``"dataset/patches"``."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from exp2simgan_core import streams
from exp2simgan_core.dataset import FILL_VALUE, INTENSITY_RULE, fill_masked, intensity_unit
from exp2simgan_core.io import check_writable, read_h5, write_h5
from exp2simgan_core.vocabulary import DOMAINS

log = logging.getLogger(__name__)


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
