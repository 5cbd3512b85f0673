"""Checkpoint selection by the Fréchet distance between translated and real target-domain spectra.

For each saved checkpoint, the held-out inputs are translated with that checkpoint's generator
(``translate_spectra``); a fixed feature extractor maps the translations and the real target
spectra to vectors, and pytorch-fid's ``calculate_frechet_distance`` compares the two Gaussians.
The checkpoint with the lowest distance is selected.

Feature extractor (in-domain, not InceptionV3): the encoder of the generator, in the LAST
checkpoint, whose input domain is the target domain (Exp2Sim: the Sim2Exp generator, which reads
unconvolved spectra; Sim2Exp: the Exp2Sim generator). Its activations after encoder layer
``FEATURE_LAYER`` (or the deepest encoder layer of a smaller network) are averaged over space,
giving one vector of ``4 * ngf`` channels per spectrum. The same extractor scores every
checkpoint, so the distances are comparable with each other (not with other runs).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import torch
from pytorch_fid.fid_score import calculate_frechet_distance

from exp2simgan_core.dataset import normalised
from exp2simgan_core.gan.checkpoint import (
    CHECKPOINT_DIR,
    CHECKPOINT_PATTERN,
    DIRECTIONS,
    LoadedGenerator,
    load_generator,
)
from exp2simgan_core.gan.networks import ResnetGenerator
from exp2simgan_core.gan.translate import translate_spectra

FEATURE_LAYER = 16  # last encoder layer of the paper's generator (5th residual block)
COVARIANCE_RIDGE = 1e-6  # added to the covariance diagonals, times their mean variance
OTHER_DIRECTION = {"exp2sim": "sim2exp", "sim2exp": "exp2sim"}


def encoder_features(
    generator: ResnetGenerator, x_scaled: torch.Tensor, layer: int = FEATURE_LAYER
) -> np.ndarray:
    """Global-average-pooled encoder activations: (n, 1, *S) scaled to [-1, 1] -> (n, channels).

    ``x_scaled`` is NaN-free (masked pixels filled) and scaled with the generator's input-domain
    scaling; ``channels`` is ``generator.layer_channels(layer)``. Returns float64. Raises
    ValueError if ``layer`` is outside the encoder or the rank does not fit the generator.
    """
    dims = generator.settings.dims
    if x_scaled.ndim != dims + 2:
        raise ValueError(
            f"expected (n, channel, *spatial) of rank {dims + 2} for a {dims}D generator, "
            f"got shape {tuple(x_scaled.shape)}"
        )
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        (feature,) = generator.encode(x_scaled, (layer,))  # (n, C, *S_layer)
    generator.train(was_training)
    return feature.flatten(2).mean(dim=2).double().cpu().numpy()


def _statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of (n, d) features."""
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to (n_a, d) and (n_b, d) features, n >= 2.

    A ridge of ``COVARIANCE_RIDGE`` times the mean variance is added to both covariance diagonals,
    so sets with fewer spectra than feature channels (singular covariances) give a finite value.
    """
    for name, f in (("first", features_a), ("second", features_b)):
        if f.ndim != 2 or len(f) < 2:
            raise ValueError(
                f"the {name} feature set has shape {f.shape}; need (n, d) with n >= 2 spectra"
            )
    (mu1, s1), (mu2, s2) = _statistics(features_a), _statistics(features_b)
    scale = max(float(np.trace(s1) + np.trace(s2)) / (2 * len(s1)), np.finfo(float).tiny)
    ridge = np.eye(len(s1)) * COVARIANCE_RIDGE * scale
    with warnings.catch_warnings():  # pytorch-fid 0.3.0 passes scipy's deprecated ``disp``
        warnings.filterwarnings("ignore", message=".*`disp` argument", category=DeprecationWarning)
        return float(calculate_frechet_distance(mu1, s1 + ridge, mu2, s2 + ridge))


def checkpoint_files(checkpoint_dir: Path) -> list[Path]:
    """``iter_XXXXXXXX.pt`` files in ``checkpoint_dir`` (or its ``checkpoints`` subfolder), by
    ascending iteration. Raises ValueError if there are none."""
    folder = Path(checkpoint_dir)
    if not any(CHECKPOINT_PATTERN.match(p.name) for p in _entries(folder)):
        folder = folder / CHECKPOINT_DIR
    found = sorted(p for p in _entries(folder) if CHECKPOINT_PATTERN.match(p.name))
    if not found:
        raise ValueError(
            f"no checkpoint files (iter_XXXXXXXX.pt) in {checkpoint_dir} or its "
            f"'{CHECKPOINT_DIR}' subfolder; train first"
        )
    return found


def _entries(folder: Path) -> list[Path]:
    return list(folder.iterdir()) if folder.is_dir() else []


def _features(extractor: LoadedGenerator, spectra: np.ndarray, layer: int) -> np.ndarray:
    """Features of (n, *S) spectra in the extractor's input domain (normalised, then scaled)."""
    device = next(extractor.generator.parameters()).device
    x = torch.from_numpy(normalised(spectra)[0]).unsqueeze(1).to(device)  # (n, 1, *S)
    x = extractor.scaling.scale(x, extractor.input_domain)
    return encoder_features(extractor.generator, x, layer)


def select_checkpoint(
    checkpoint_dir: Path,
    direction: str,
    inputs: np.ndarray,
    targets: np.ndarray,
    device: str = "cpu",
) -> tuple[Path, list[dict]]:
    """The checkpoint of ``direction`` whose translations of ``inputs`` best match ``targets``.

    ``inputs``: (n, *S) spectra of the direction's input domain, ``targets``: (m, *S') real
    spectra of its output domain (n, m >= 2; S and S' may differ), float, NaN = uncovered.
    Features come from the fixed extractor described in the module docstring (the LAST
    checkpoint's generator reading the target domain, with that checkpoint's scaling). Returns
    the path with the lowest distance and one row per checkpoint in iteration order:
    {checkpoint (file name), iteration, frechet_distance}.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {direction!r}")
    for name, data in (("inputs", inputs), ("targets", targets)):
        if len(data) < 2:
            raise ValueError(f"{name} holds {len(data)} spectra; selection needs at least 2")
    paths = checkpoint_files(checkpoint_dir)
    extractor = load_generator(paths[-1], OTHER_DIRECTION[direction])
    extractor.generator.to(device)
    layer = min(FEATURE_LAYER, extractor.generator.n_encoder_layers - 1)
    real = _features(extractor, np.asarray(targets, dtype=np.float32), layer)
    rows = []
    for path in paths:
        translated = translate_spectra(load_generator(path, direction), inputs, device=device)
        fake = _features(extractor, translated, layer)
        iteration = int(re.match(CHECKPOINT_PATTERN, path.name).group(1))
        rows.append(
            {
                "checkpoint": path.name,
                "iteration": iteration,
                "frechet_distance": frechet_distance(fake, real),
            }
        )
    best = min(range(len(rows)), key=lambda i: rows[i]["frechet_distance"])
    return paths[best], rows
