"""Translate whole spectra with a trained generator, and score translations against the truth.

Masked-pixel and intensity rule. Spectra are float intensities in any unit, NaN
where the instrument has no coverage. ``translate_spectra``:

1. divides each spectrum by its mean over covered bins and fills NaN with 0
   (``exp2simgan_core.dataset.normalised``; the project's one fill rule),
2. scales it with the checkpoint's scaling of the input domain to [-1, 1],
3. runs ``networks.translate_full`` (fully convolutional; any size >= 5 bins per axis, padded
   reflectively at the high end to a multiple of 4 and cropped back),
4. unscales with the output domain's scaling and clips at 0 (intensities are non-negative),
5. multiplies the translation so that its total over the input's covered bins equals the
   input's (resolution broadening conserves spectral weight; to 0.1 % on the simulated pairs):
   the output is in the input's unit, whatever it is, and ``translate(a x) = a translate(x)``,
6. puts NaN back wherever the input was NaN, so coverage is unchanged by translation.

Small negative input intensities (background-subtraction noise down to
``dataset.NEGATIVE_TOLERANCE`` of the spectrum's maximum) are passed through unchanged; anything
more negative is refused (``LoadedGenerator.check_input``).

Tiling: a volume (or image) with more than ``max_voxels`` bins is translated in overlapping tiles
along its last axis only (energy for (H, K, E) volumes, columns for images), blended with linear
ramps over the overlaps. Instance normalisation sees each tile separately, so a tiled translation
is close to, not identical with, a whole one; the default budget avoids tiling for the paper's
sizes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.stats import t as student_t
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from exp2simgan_core.dataset import fill_masked
from exp2simgan_core.gan.checkpoint import LoadedGenerator
from exp2simgan_core.gan.networks import MIN_FULL_SIZE, translate_full
from exp2simgan_core.gan.settings import SIZE_MULTIPLE

CHANGE_KEYS = ("change_cosine", "change_size")  # change_agreement, mean over spectra
GAIN_KEYS = ("psnr_gain_low", "psnr_gain_high")  # 95 % interval of the mean PSNR change, dB
MAX_VOXELS = 2**24  # bins of one spectrum above which it is translated in tiles along its last axis
TILE_OVERLAP = 0.25  # fraction of a tile shared with its neighbour
SSIM_WINDOW = 7  # skimage's default window; shrunk (odd) for spectra smaller than it


def _tiles(size: int, width: int) -> list[tuple[int, int]]:
    """(start, stop) tiles of ``width`` bins covering 0..size, overlapping by TILE_OVERLAP."""
    if width >= size:
        return [(0, size)]
    step = max(1, int(width * (1 - TILE_OVERLAP)))
    starts = list(range(0, size - width, step)) + [size - width]
    return [(s, s + width) for s in starts]


def _translate_tiled(generator, x: torch.Tensor, max_voxels: int) -> torch.Tensor:
    """translate_full on (B, 1, *S), in overlapping tiles along the last axis if S is too large."""
    sizes = x.shape[2:]
    if math.prod(sizes) <= max_voxels:
        return translate_full(generator, x)
    other = math.prod(sizes[:-1])
    width = max(MIN_FULL_SIZE, SIZE_MULTIPLE * (max_voxels // other // SIZE_MULTIPLE))
    out = torch.zeros_like(x)
    weight = torch.zeros(sizes[-1], dtype=x.dtype, device=x.device)
    for start, stop in _tiles(sizes[-1], width):
        n = stop - start
        ramp = torch.arange(1, n + 1, dtype=x.dtype, device=x.device)
        w = torch.minimum(ramp, ramp.flip(0)).clamp(max=max(1.0, TILE_OVERLAP * n))  # (n,)
        out[..., start:stop] += translate_full(generator, x[..., start:stop]) * w
        weight[start:stop] += w
    return out / weight


def translate_spectra(
    loaded: LoadedGenerator,
    spectra: np.ndarray,
    device: str = "cpu",
    batch: int = 4,
    max_voxels: int = MAX_VOXELS,
) -> np.ndarray:
    """Translate spectra from ``loaded.input_domain`` to ``loaded.output_domain``.

    ``spectra``: (n, rows, cols) for a 2D generator or (n, H, K, E) for a 3D one, float
    intensities in any unit, NaN = uncovered. Returns float32 of the same shape and unit, >= 0,
    with the input's total intensity (0 everywhere if the network outputs nothing), NaN exactly
    where the input was NaN (see the module docstring for the rule).
    ``batch`` spectra go through the network at once; spectra with more than ``max_voxels`` bins
    are translated in tiles along the last axis. Raises ValueError on spectra that
    ``loaded.check_input`` refuses (a rank that does not fit the generator, an all-NaN
    spectrum, Inf, intensities below -5 % of a spectrum's maximum, ...).

    >>> translate_spectra(load_generator("iter_00001000.pt", "exp2sim"), conv)  # doctest: +SKIP
    """
    if batch < 1 or max_voxels < 1:
        raise ValueError(f"batch ({batch}) and max_voxels ({max_voxels}) must be positive")
    x = loaded.check_input(spectra)
    generator = loaded.generator.to(device)
    out = np.empty_like(x)
    with torch.no_grad():
        for i in range(0, len(x), batch):
            scaled = loaded.scaling.network_input(x[i : i + batch], loaded.input_domain, device)
            y = _translate_tiled(generator, scaled, max_voxels)
            y = loaded.scaling.unscale(y, loaded.output_domain).clamp(min=0.0)
            out[i : i + batch] = y[:, 0].float().cpu().numpy()
    covered = ~np.isnan(x)
    axes = tuple(range(1, x.ndim))
    total_in = np.where(covered, x, 0.0).sum(axis=axes, dtype=np.float64)
    total_out = np.where(covered, out, 0.0).sum(axis=axes, dtype=np.float64)
    factor = np.divide(total_in, total_out, out=np.zeros_like(total_in), where=total_out > 0)
    out *= factor.astype(np.float32).reshape((-1,) + (1,) * len(axes))
    out[~covered] = np.nan
    return out


def _psnr(target: np.ndarray, other: np.ndarray, data_range: float) -> float:
    """PSNR in dB over pixels covered in both; inf for identical covered pixels."""
    covered = ~(np.isnan(target) | np.isnan(other))
    t, o = target[covered], other[covered]
    if np.array_equal(t, o):
        return math.inf
    return float(peak_signal_noise_ratio(t, o, data_range=data_range))


def _ssim(target: np.ndarray, other: np.ndarray, data_range: float) -> float:
    """SSIM with NaN filled by 0; the window shrinks (odd, >= 3) for spectra smaller than 7."""
    win = min(SSIM_WINDOW, min(target.shape))
    win -= 1 - win % 2
    if win < 3:
        raise ValueError(
            f"spectra of shape {target.shape} are too small for SSIM (3 bins per axis)"
        )
    return float(
        structural_similarity(
            fill_masked(target), fill_masked(other), data_range=data_range, win_size=win
        )
    )


def change_agreement(
    pred: np.ndarray, target: np.ndarray, before: np.ndarray
) -> tuple[float, float]:
    """How the change a translation makes compares with the change needed, for one spectrum.

    made = ``pred - before``, needed = ``target - before``, over bins covered in all three.
    Returns (cosine, size): the cosine of the angle between made and needed (1: the right
    direction, 0: unrelated or no change, -1: the opposite) and the norm of made over that of
    needed (1: the full amount). Their product is the share of the needed change achieved along
    its direction; the squared error after translation is ``|needed|^2 (1 - 2 cos size + size^2)``.
    Raises ValueError when no change is needed (target equals before on every covered bin).
    """
    covered = ~(np.isnan(pred) | np.isnan(target) | np.isnan(before))
    made, needed = pred[covered] - before[covered], target[covered] - before[covered]
    norm_needed, norm_made = float(np.linalg.norm(needed)), float(np.linalg.norm(made))
    if not norm_needed > 0:
        raise ValueError("target equals before on every covered bin: no change is needed")
    cosine = float(made @ needed) / (norm_made * norm_needed) if norm_made > 0 else 0.0
    return cosine, norm_made / norm_needed


def translation_quality(pred: np.ndarray, target: np.ndarray, before: np.ndarray) -> dict:
    """Mean PSNR (dB) and SSIM of ``before`` and of ``pred`` against ``target``, and how the
    change made compares with the change needed.

    All three are (n, *S) float, NaN = uncovered, in the same intensity unit (e.g. Exp2Sim:
    ``before`` the convolved input, ``pred`` its translation, ``target`` the true unconvolved
    spectrum). Per spectrum, data_range is the target's maximum over covered pixels; PSNR uses
    only pixels covered in both arrays compared, SSIM fills NaN with 0. PSNR of identical covered
    pixels is ``inf`` (so is a mean including it). Returns {psnr_before, psnr_after, ssim_before,
    ssim_after, change_cosine, change_size, psnr_gain_low, psnr_gain_high} as floats:
    ``change_agreement`` averaged over spectra, and the 95 % Student-t interval of the mean
    per-spectrum PSNR change (after - before, dB), which says whether the spectra gain or lose
    more than their spread allows by chance (the spread of the spectra, not of training runs;
    NaN for a single spectrum or an infinite PSNR). Raises ValueError on differing shapes, an
    empty set, a target without positive intensity or one equal to its ``before``.
    """
    pred, target, before = (np.asarray(a, dtype=np.float64) for a in (pred, target, before))
    if not pred.shape == target.shape == before.shape:
        raise ValueError(
            f"pred {pred.shape}, target {target.shape} and before {before.shape} must have the "
            "same shape (n, *spatial)"
        )
    if pred.ndim < 3 or len(pred) == 0:
        raise ValueError(f"expected a non-empty stack (n, *spatial), got shape {pred.shape}")
    rows = []
    for i in range(len(target)):
        peak = float(np.nanmax(target[i])) if not np.isnan(target[i]).all() else math.nan
        if not peak > 0:
            raise ValueError(f"target spectrum {i} has no positive covered intensity")
        rows.append(
            (
                _psnr(target[i], before[i], peak),
                _psnr(target[i], pred[i], peak),
                _ssim(target[i], before[i], peak),
                _ssim(target[i], pred[i], peak),
                *change_agreement(pred[i], target[i], before[i]),
            )
        )
    rows = np.array(rows)
    keys = ("psnr_before", "psnr_after", "ssim_before", "ssim_after", *CHANGE_KEYS)
    quality = {k: float(v) for k, v in zip(keys, rows.mean(axis=0), strict=True)}
    return quality | dict(zip(GAIN_KEYS, mean_interval(rows[:, 1] - rows[:, 0]), strict=True))


def mean_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The two-sided Student-t interval at ``level`` of the mean of ``values``, a 1D sample
    of independent values; (NaN, NaN) for fewer than two or any not finite."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2 or not np.isfinite(values).all():
        return math.nan, math.nan
    half = student_t.ppf(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / len(values) ** 0.5
    return float(values.mean() - half), float(values.mean() + half)
