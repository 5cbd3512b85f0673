"""Users' measured spectra: read, checked and, from the paper's layout, rebinned.

A user spectrum is a ``.npy`` array or a project HDF5 file (``io.read_h5``) holding one spectrum
in the 2D image layout (``physics.layout.Layout2D``), in arbitrary intensity units; it is returned
as float32 (rows, cols), NaN where the instrument has no detector coverage. Problems raise
``io.DataFileError`` naming the file.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np

from exp2simgan_core.dataset import NEGATIVE_TOLERANCE
from exp2simgan_core.io import DataFileError, read_h5
from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.rebin import REBIN_RULE, layout_mapping, rebin_image

log = logging.getLogger(__name__)

USER_FORMATS = (
    ".npy (an array in this run's layout) or .h5/.hdf5 (a project file, dataset 'spectra')"
)
PAPER_LAYOUT = Layout2D()  # the community's 240 x 400 layout; user spectra in it are rebinned


def read_user_spectrum(path: str | Path, layout: Layout2D | tuple[int, int]) -> np.ndarray:
    """A user's measured spectrum as float32 (rows, cols) of ``layout``, NaN where uncovered.

    Accepts a ``.npy`` array in the community layout (the paper's is 240 x 400: rows Ei ascending,
    columns energy bins ascending, each panel (H, K)), or a project HDF5 file whose 'spectra'
    dataset holds one spectrum. Uncovered pixels are NaN; an array without any NaN follows the
    community convention of 0 where uncovered, and its zeros become NaN (a zero-intensity covered
    pixel is then indistinguishable from an uncovered one, which the fill rule treats alike).
    Negative intensities down to ``NEGATIVE_TOLERANCE`` times the maximum are background-subtraction
    noise and are clipped to 0; anything more negative, Inf, a wrong shape or a spectrum without
    positive intensity raises ``DataFileError`` saying what to fix.

    ``layout`` is the run's ``Layout2D``: a spectrum of its shape is read as is, and one of the
    paper's 240 x 400 layout (``PAPER_LAYOUT``) is cleaned, then rebinned into it
    (``exp2simgan_core.rebin.rebin_image``). A bare (rows, cols) shape accepts that shape only.
    ``load_user_spectrum`` also says whether the spectrum was rebinned.
    """
    return load_user_spectrum(path, layout)[0]


def load_user_spectrum(
    path: str | Path, layout: Layout2D | tuple[int, int]
) -> tuple[np.ndarray, dict[str, Any]]:
    """``read_user_spectrum`` plus attributes recording a rebinning ({} when read as is).

    After a rebinning from ``PAPER_LAYOUT`` the attributes are ``rebinned_from`` (the source
    shape [240, 400]), ``rebin_source_layout`` (its ``Layout2D`` fields) and ``rebin_rule``
    (``REBIN_RULE``), ready for ``write_h5``.
    """
    path = Path(path)
    shape = layout.shape if isinstance(layout, Layout2D) else tuple(layout)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise DataFileError(f"{path}: not a readable .npy array: {err}") from None
        if not isinstance(array, np.ndarray):  # np.load reads a .npz archive whatever its name
            raise DataFileError(f"{path}: a .npz archive, not one .npy array; save one array")
    elif suffix in (".h5", ".hdf5"):
        trailing = None if isinstance(layout, Layout2D) else shape
        spectra = read_h5(path, required=["spectra"], trailing_shape=trailing).datasets["spectra"]
        if len(spectra) != 1:
            raise DataFileError(
                f"{path}: 'spectra' holds {len(spectra)} spectra; give one per user_spectra entry"
            )
        array = spectra[0]
    else:
        raise DataFileError(
            f"{path}: unsupported file type '{suffix}'; give {USER_FORMATS}. Images such as PNG "
            "hold 8-bit rescaled intensities and cannot be used"
        )
    if array.dtype.kind not in "iuf":
        raise DataFileError(f"{path}: dtype {array.dtype} is not a real number type")
    if array.shape == shape:
        return _clean_user_array(path, array), {}
    rebinnable = isinstance(layout, Layout2D) and array.shape == PAPER_LAYOUT.shape
    if not rebinnable:
        mappable = (
            f" or the paper's {PAPER_LAYOUT.shape[0]} x {PAPER_LAYOUT.shape[1]} layout "
            "(rebinned into this run's)"
            if isinstance(layout, Layout2D)
            else ""
        )
        raise DataFileError(
            f"{path}: shape {array.shape}, expected {shape} (rows: one block per incident "
            "energy; columns: one block per energy bin) for the layout of this run; only arrays "
            f"in this run's layout{mappable} can be read"
        )
    try:
        layout_mapping(PAPER_LAYOUT, layout)
    except ValueError as err:
        raise DataFileError(
            f"{path}: shape {array.shape} is the paper's layout, which does not map onto this "
            f"run's layout {shape}: {err}"
        ) from None
    x = rebin_image(_clean_user_array(path, array), PAPER_LAYOUT, layout)
    if np.isnan(x).all() or not np.nanmax(x) > 0:
        raise DataFileError(
            f"{path}: no covered pixel with positive intensity is left after rebinning from "
            f"{array.shape} to this run's layout {shape}"
        )
    log.info("%s: rebinned from %s to %s (%s)", path, array.shape, shape, REBIN_RULE)
    attrs = {
        "rebinned_from": list(array.shape),
        "rebin_source_layout": dataclasses.asdict(PAPER_LAYOUT),
        "rebin_rule": REBIN_RULE,
    }
    return x, attrs


def _clean_user_array(path: Path, array: np.ndarray) -> np.ndarray:
    """Float32 copy of a real-valued user array: 0 -> NaN without NaN, small negatives -> 0."""
    x = array.astype(np.float32)
    if np.isinf(x).any():
        raise DataFileError(f"{path}: {int(np.isinf(x).sum())} pixels are infinite")
    if not np.isnan(x).any():
        x[x == 0] = np.nan
    if np.isnan(x).all():
        raise DataFileError(f"{path}: every pixel is 0 or NaN (no covered pixel)")
    peak = np.nanmax(x)
    if peak <= 0:
        raise DataFileError(f"{path}: no positive intensity (maximum {peak:g})")
    low = np.nanmin(x)
    if low < -NEGATIVE_TOLERANCE * peak:
        raise DataFileError(
            f"{path}: intensities down to {low:g}, below -{NEGATIVE_TOLERANCE:g} x the maximum "
            f"{peak:g}; subtract the background so that intensities are >= 0 (small negative "
            "noise is accepted and clipped to 0)"
        )
    n_negative = int((x < 0).sum())
    if n_negative:
        log.info("%s: clipped %d small negative intensities to 0", path, n_negative)
        x[x < 0] = 0.0
    return x
