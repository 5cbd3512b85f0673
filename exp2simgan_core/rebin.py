"""Rebinning a 2D spectrum from one ``Layout2D`` to another (the paper's 240 x 400 to a preset's).

The rule (``REBIN_RULE``), applied panel by panel:

* Incident energies: the target's Ei row blocks are taken from the source, matched by Ei within
  ``EI_TOLERANCE_MEV`` (meV); the Fermi chopper frequencies (Hz) of matched rows must agree within
  ``CHOPPER_TOLERANCE_HZ``, since another frequency is another resolution.
* Energy transfer: bins are fractions of Ei (``e_lo + j * e_step``). The target's bins must be the
  source's or a run of consecutive source bins (same ``e_step``, ``e_lo`` on a source edge); bins
  are picked, never merged or split.
* (H, K): pixel edges are centre +- ``pixel_width / 2`` (r.l.u.). Each target pixel is the
  area-weighted mean of the source pixels it overlaps: weight = overlap length along H times overlap
  length along K. Source pixels outside the coverage mask (NaN) are left out of both the weighted
  sum and the weight sum, so a partly covered target pixel is the mean of its covered part; a
  covered pixel of intensity 0 (e.g. after background subtraction) counts as covered. A target
  pixel without any covered overlap is NaN. The target's pixel centres must lie inside the
  source's (``hk_max`` no larger). Intensities are densities (per pixel area and per meV), so an
  average keeps their unit; a uniform spectrum stays uniform.
* The same layout gives an exact copy.

Example::

    >>> import numpy as np
    >>> src = Layout2D(ei_mev=(35.0,), chopper_hz=(200.0,), n_pix=4, n_ebins=1)
    >>> dst = Layout2D(ei_mev=(35.0,), chopper_hz=(200.0,), n_pix=2, n_ebins=1)
    >>> rebin_image(np.ones(src.shape, np.float32), src, dst).tolist()
    [[1.0, 1.0], [1.0, 1.0]]
"""

from __future__ import annotations

import numpy as np

from exp2simgan_core.physics.layout import Layout2D

EI_TOLERANCE_MEV = 1e-6  # two incident energies closer than this are the same, meV
CHOPPER_TOLERANCE_HZ = 1e-6  # two chopper frequencies closer than this are the same, Hz
_FRACTION_TOLERANCE = 1e-9  # e_lo, e_step, hk_max comparisons (fractions of Ei, r.l.u.)
REBIN_RULE = (
    "exp2simgan_core.rebin.rebin_image: target Ei rows and energy bins picked from the source; "
    "each (H, K) pixel the overlap-area-weighted mean of the covered (non-NaN) source pixels it "
    "overlaps, NaN without covered overlap"
)


def overlap_lengths(
    source_centres: np.ndarray,
    source_width: float,
    target_centres: np.ndarray,
    target_width: float,
) -> np.ndarray:
    """Overlap length (r.l.u.) of each target pixel with each source pixel along one axis.

    Pixels span centre +- width / 2. Returns shape (n_target, n_source), float64, >= 0; overlaps
    below 1e-9 of the smaller width (edges meeting up to rounding) are 0.
    """
    s = np.asarray(source_centres, dtype=np.float64)
    t = np.asarray(target_centres, dtype=np.float64)
    lo = np.maximum(t[:, None] - target_width / 2, s[None, :] - source_width / 2)
    hi = np.minimum(t[:, None] + target_width / 2, s[None, :] + source_width / 2)
    overlap = hi - lo
    overlap[overlap < 1e-9 * min(source_width, target_width)] = 0.0
    return overlap


def layout_mapping(source: Layout2D, target: Layout2D) -> tuple[list[int], int]:
    """Which source Ei row blocks and energy bins make up the target layout.

    Returns (``rows``, ``first_bin``): ``rows[i]`` is the source Ei index of target Ei ``i``, and
    target bin ``j`` is source bin ``first_bin + j``. Raises ``ValueError`` saying what differs
    when the target asks for an Ei the source lacks, a chopper frequency that differs, energy bins
    that are not a run of the source's bins, or (H, K) centres beyond the source's ``hk_max``.
    """
    source_ei = ", ".join(f"{e:g}" for e in source.ei_mev)
    rows = []
    for ei, hz in zip(target.ei_mev, target.chopper_hz, strict=True):
        matches = [i for i, e in enumerate(source.ei_mev) if abs(e - ei) <= EI_TOLERANCE_MEV]
        if not matches:
            raise ValueError(
                f"cannot rebin: the target layout's Ei {ei:g} meV is not in the source layout "
                f"(Ei {source_ei} meV); rows are picked by Ei, never interpolated"
            )
        i = matches[0]
        if abs(source.chopper_hz[i] - hz) > CHOPPER_TOLERANCE_HZ:
            raise ValueError(
                f"cannot rebin: at Ei {ei:g} meV the target layout's chopper frequency is "
                f"{hz:g} Hz but the source's is {source.chopper_hz[i]:g} Hz (another resolution)"
            )
        rows.append(i)
    bins = (
        f"target bins [{target.e_lo:g} + j x {target.e_step:g}] x Ei, j < {target.n_ebins}; "
        f"source bins [{source.e_lo:g} + j x {source.e_step:g}] x Ei, j < {source.n_ebins}"
    )
    if abs(target.e_step - source.e_step) > _FRACTION_TOLERANCE:
        raise ValueError(
            f"cannot rebin: energy bins differ in width ({bins}); the target's bins must be the "
            "source's or a run of consecutive source bins"
        )
    offset = (target.e_lo - source.e_lo) / source.e_step
    first_bin = round(offset)
    if (
        abs(offset - first_bin) * source.e_step > _FRACTION_TOLERANCE
        or first_bin < 0
        or first_bin + target.n_ebins > source.n_ebins
    ):
        raise ValueError(
            f"cannot rebin: the target's energy bins are not a subset of the source's ({bins}); "
            "the target's bins must be the source's or a run of consecutive source bins"
        )
    if target.hk_max > source.hk_max + _FRACTION_TOLERANCE:
        raise ValueError(
            f"cannot rebin: the target layout's (H, K) range +-{target.hk_max:g} r.l.u. exceeds "
            f"the source's +-{source.hk_max:g} r.l.u."
        )
    return rows, first_bin


def rebin_image(image: np.ndarray, source: Layout2D, target: Layout2D) -> np.ndarray:
    """``image`` (..., *source.shape) mapped to (..., *target.shape) by ``REBIN_RULE``.

    NaN marks uncovered pixels in both. The result is float (float32 input stays float32; the
    weighting is done in float64). Raises ``ValueError`` if the layouts cannot be mapped
    (``layout_mapping``) or ``image`` does not have the source's shape.
    """
    image = np.asarray(image)
    if image.shape[-2:] != source.shape:
        raise ValueError(
            f"cannot rebin: image of shape {image.shape[-2:]}, the source layout's is "
            f"{source.shape}"
        )
    dtype = np.result_type(image.dtype, np.float32)
    if source == target:
        return image.astype(dtype, copy=True)
    rows, first_bin = layout_mapping(source, target)
    panels = source.split(image)[..., rows, first_bin : first_bin + target.n_ebins, :, :]
    if source.n_pix == target.n_pix and abs(source.hk_max - target.hk_max) <= _FRACTION_TOLERANCE:
        return target.assemble(panels).astype(dtype, copy=True)
    weights = overlap_lengths(
        source.hk_centres(), source.pixel_width, target.hk_centres(), target.pixel_width
    )
    panels = panels.astype(np.float64)
    covered = ~np.isnan(panels)
    total = np.einsum("ah,...hk,bk->...ab", weights, np.where(covered, panels, 0.0), weights)
    weight = np.einsum("ah,...hk,bk->...ab", weights, covered.astype(np.float64), weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        rebinned = np.where(weight > 0, total / weight, np.nan)
    return target.assemble(rebinned).astype(dtype)
