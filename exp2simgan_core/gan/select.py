"""Checkpoint selection by the Fréchet distance between translated and real target-domain spectra.

For each saved checkpoint, the held-out inputs are translated with that checkpoint's generator
(``translate_spectra``); a fixed feature extractor maps the translations and the real target
spectra to vectors, and pytorch-fid's ``calculate_frechet_distance`` compares the two Gaussians.
The checkpoint with the lowest distance is selected.

Feature extractors (the table's ``features`` column says which one scored a run):

* ``encoder`` (the default; in-domain): the encoder of the generator, in the LAST checkpoint,
  whose input domain is the target domain (Exp2Sim: the Sim2Exp generator, which reads
  unconvolved spectra; Sim2Exp: the Exp2Sim generator). Its activations after encoder layer
  ``FEATURE_LAYER`` (or the deepest encoder layer of a smaller network) are averaged over space,
  giving one vector of ``4 * ngf`` channels per spectrum. The same extractor scores every
  checkpoint, so the distances are comparable with each other (not with other runs).
* ``inception`` (2D only, when a local copy of pytorch-fid's FID weights,
  ``pt_inception-2015-12-05-6726825d.pth``, is configured): pytorch-fid's ``InceptionV3``, its
  2048 pool features, as in the FID. A spectrum, scaled to [-1, 1] with the last checkpoint's
  target-domain scaling (masked pixels at the bottom of the range), is mapped to [0, 1], repeated
  over the three colour channels and resized to 299 x 299 by the network (as pytorch-fid does for
  images). Nothing is downloaded. Distances are comparable across runs with the same scaling.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from pytorch_fid.fid_score import calculate_frechet_distance
from pytorch_fid.inception import FID_WEIGHTS_URL, InceptionV3

from exp2simgan_core.gan.checkpoint import (
    CHECKPOINT_DIR,
    CHECKPOINT_PATTERN,
    LoadedGenerator,
    load_generator,
)
from exp2simgan_core.gan.networks import ResnetGenerator
from exp2simgan_core.gan.translate import translate_spectra
from exp2simgan_core.util import evaluating
from exp2simgan_core.vocabulary import direction as get_direction

FEATURE_LAYER = 16  # last encoder layer of the paper's generator (5th residual block)
COVARIANCE_RIDGE = 1e-6  # added to the covariance diagonals, times their mean variance
INCEPTION_DIM = 2048  # pytorch-fid's final average-pooling features
FEATURE_BATCH = 8  # spectra per forward pass (a 240 x 400 batch of 8 at ngf 64: about 2 GiB)


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
    with evaluating(generator), torch.no_grad():
        (feature,) = generator.encode(x_scaled, (layer,))  # (n, C, *S_layer)
    return feature.flatten(2).mean(dim=2).double().cpu().numpy()


def load_inception(weights: str | Path, device: str = "cpu") -> InceptionV3:
    """pytorch-fid's FID InceptionV3 (2048 pool features), weights read from a local file.

    ``weights`` is pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth`` (the file its
    ``FID_WEIGHTS_URL`` names). pytorch-fid loads it through torch.hub's cache; a temporary cache
    holding only a link to ``weights`` stands in for it, so nothing is downloaded. Raises
    ValueError naming the file if it is missing or does not hold those weights.
    """
    path = Path(weights)
    if not path.is_file():
        raise ValueError(f"InceptionV3 weights file {path} not found")
    previous = torch.hub.get_dir()
    with tempfile.TemporaryDirectory() as hub:
        os.mkdir(os.path.join(hub, "checkpoints"))
        os.symlink(path.resolve(), os.path.join(hub, "checkpoints", Path(FID_WEIGHTS_URL).name))
        torch.hub.set_dir(hub)
        try:
            model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[INCEPTION_DIM]])
        except Exception as err:  # unpickling, missing or misshaped tensors
            raise ValueError(
                f"{path} does not hold pytorch-fid's FID InceptionV3 weights "
                f"({Path(FID_WEIGHTS_URL).name}): {type(err).__name__}: {err}"
            ) from err
        finally:
            torch.hub.set_dir(previous)
    return model.eval().to(device)


def inception_features(model: InceptionV3, x_scaled: torch.Tensor) -> np.ndarray:
    """InceptionV3 pool features: (n, 1, H, W) scaled to [-1, 1] -> (n, 2048) float64.

    Mapped to [0, 1] (clipped) and repeated over three channels; ``model`` resizes to 299 x 299.
    """
    if x_scaled.ndim != 4 or x_scaled.shape[1] != 1:
        raise ValueError(
            f"InceptionV3 features need (n, 1, H, W) 2D spectra, got shape {tuple(x_scaled.shape)}"
        )
    rgb = ((x_scaled + 1.0) / 2.0).clamp(0.0, 1.0).expand(-1, 3, -1, -1)
    with torch.no_grad():
        (pooled,) = model(rgb.to(next(model.parameters()).device))  # (n, 2048, 1, 1)
    return pooled.flatten(1).double().cpu().numpy()


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


def _feature_function(
    extractor: LoadedGenerator, inception: InceptionV3 | None
) -> tuple[str, Callable[[np.ndarray], np.ndarray]]:
    """(name, features of (n, *S) spectra of the extractor's input domain, normalised and scaled,
    ``FEATURE_BATCH`` spectra at a time)."""
    device = next(extractor.generator.parameters()).device
    layer = min(FEATURE_LAYER, extractor.generator.n_encoder_layers - 1)
    if inception is not None and extractor.generator.settings.dims != 2:
        raise ValueError("InceptionV3 features need 2D spectra; use the encoder features in 3D")

    def batch_features(spectra: np.ndarray) -> np.ndarray:
        x = extractor.scaling.network_input(spectra, extractor.input_domain, device)
        if inception is None:
            return encoder_features(extractor.generator, x, layer)
        return inception_features(inception, x)

    def features(spectra: np.ndarray) -> np.ndarray:
        spectra = np.asarray(spectra, dtype=np.float32)
        chunks = range(0, len(spectra), FEATURE_BATCH)
        return np.concatenate([batch_features(spectra[i : i + FEATURE_BATCH]) for i in chunks])

    return ("encoder" if inception is None else "inception"), features


def select_checkpoint(
    checkpoint_dir: Path,
    direction: str,
    inputs: np.ndarray,
    targets: np.ndarray,
    device: str = "cpu",
    inception: InceptionV3 | None = None,
) -> tuple[Path, list[dict]]:
    """The checkpoint of ``direction`` whose translations of ``inputs`` best match ``targets``.

    ``inputs``: (n, *S) spectra of the direction's input domain, ``targets``: (m, *S') real
    spectra of its output domain (n, m >= 2; S and S' may differ), float, NaN = uncovered.
    Features come from ``inception`` (``load_inception``) if given, else from the encoder of the
    LAST checkpoint's generator reading the target domain (module docstring); both read spectra
    scaled with that checkpoint's scaling. Returns the path with the lowest distance and one row
    per checkpoint in iteration order: {checkpoint (file name), iteration, features
    ('encoder' or 'inception'), frechet_distance}.
    """
    reverse = get_direction(direction).reverse.name
    for name, data in (("inputs", inputs), ("targets", targets)):
        if len(data) < 2:
            raise ValueError(f"{name} holds {len(data)} spectra; selection needs at least 2")
    paths = checkpoint_files(checkpoint_dir)
    extractor = load_generator(paths[-1], reverse)
    extractor.generator.to(device)
    kind, features = _feature_function(extractor, inception)
    real = features(targets)
    rows = []
    for path in paths:
        translated = translate_spectra(load_generator(path, direction), inputs, device=device)
        iteration = int(re.match(CHECKPOINT_PATTERN, path.name).group(1))
        rows.append(
            {
                "checkpoint": path.name,
                "iteration": iteration,
                "features": kind,
                "frechet_distance": frechet_distance(features(translated), real),
            }
        )
    bad = [r["checkpoint"] for r in rows if not np.isfinite(r["frechet_distance"])]
    if bad:
        raise ValueError(
            f"{direction}: the Fréchet distance is not finite for {bad} (non-finite translations "
            "or features: a diverged checkpoint?)"
        )
    best = min(range(len(rows)), key=lambda i: rows[i]["frechet_distance"])
    return paths[best], rows
