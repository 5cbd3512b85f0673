"""Classical deconvolution baselines of 2D spectra: Richardson-Lucy and Wiener (scikit-image).

Each incident energy's block of the 2D image (see :class:`~exp2simgan_core.physics.layout.Layout2D`)
is a volume of shape (n_ebins, n_pix(H), n_pix(K)); it is deconvolved with the separable PSF of
``resolution_psf``, the discrete counterpart of how :mod:`exp2simgan_core.physics.spectra` turns
an unconvolved spectrum into a convolved one:

* H and K: the unconvolved spectrum samples the pixel centre; the convolved one averages the
  Gaussian-blurred intensity (sigma from ``q_resolution_sigma_rlu``) over the pixel. A point at a
  pixel centre therefore spreads over pixel d as ``Phi((d + 1/2) / s) - Phi((d - 1/2) / s)``,
  s = sigma / pixel width.
* Energy transfer: both spectra are spectral weight per meV averaged over a bin; the convolved one
  broadens each mode by a Gaussian first. A mode uniformly placed in a bin lands in the bin d
  away with weight ``s [G((d+1)/s) - 2 G(d/s) + G((d-1)/s)]``, G(x) = x Phi(x) + phi(x) (a
  Gaussian convolved with the triangle of two bin boxes), s = sigma / bin width.

Approximations of the PSF against the simulation:

* The energy sigma of the MAPS resolution falls with energy transfer (up to about +-25 % around
  its mean over 0.1-0.7 Ei); the PSF uses its mean over the bin centres of that Ei, since both
  scikit-image deconvolutions need one shift-invariant PSF.
* The simulation also widens a dispersing mode by its energy spread over the pixel area; that
  spread belongs to the dispersion, not the instrument, and is not in the PSF.
* The simulation blurs with the intensity beyond the panel edges; the deconvolution sees zeros
  there (Richardson-Lucy) or the opposite edge (Wiener, periodic).

Uncovered pixels (NaN) are filled with 0 (``fill_masked``) before and set back to NaN after.
Intensities below 0 are set to 0 first (Richardson-Lucy needs non-negative data), results are
clipped at 0, and each Ei block is rescaled so that its sum over covered pixels equals the
input's (both methods conserve the integrated intensity only approximately).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr
from skimage.restoration import richardson_lucy, uft, wiener

from exp2simgan_core.dataset import check_spectra, fill_masked
from exp2simgan_core.physics.instrument import (
    TOBYFIT_ENERGY_WIDTH_FACTOR,
    EnergyResolution,
    q_resolution_sigma_rlu,
)
from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.physics.spectra import SpectrumSettings
from exp2simgan_core.util import settings_from_config

PSF_TAIL_SIGMAS = 4.0  # Gaussian tails are cut this many sigma out


@dataclass(frozen=True)
class BaselineSettings:
    """The two deconvolutions and the resolution model their PSF follows."""

    rl_iterations: int = 30  # Richardson-Lucy iterations (the regularisation: fewer = smoother)
    wiener_balance: float = 0.01  # Wiener: noise-to-signal power ratio, the same at all frequencies
    energy_width_factor: float = TOBYFIT_ENERGY_WIDTH_FACTOR  # x PyChop sigma, as in simulation
    q_resolution: bool = True  # include the in-plane Q resolution, as in simulation

    @classmethod
    def from_config(
        cls, section: Mapping[str, Any], spectrum: SpectrumSettings
    ) -> BaselineSettings:
        """From the config's ``baselines`` section and the resolution model of the simulation's
        ``spectrum`` settings."""
        return settings_from_config(
            cls,
            "baselines",
            section,
            energy_width_factor=spectrum.energy_width_factor,
            q_resolution=spectrum.q_resolution,
        )

    def __post_init__(self) -> None:
        if not (isinstance(self.rl_iterations, int) and self.rl_iterations >= 1):
            raise ValueError(f"rl_iterations must be an integer >= 1, got {self.rl_iterations!r}")
        if not self.wiener_balance > 0:
            raise ValueError(f"wiener_balance must be > 0, got {self.wiener_balance}")
        if not self.energy_width_factor > 0:
            raise ValueError(f"energy_width_factor must be > 0, got {self.energy_width_factor}")


def _gaussian_antiderivative_2(x: np.ndarray) -> np.ndarray:
    """G(x) = x Phi(x) + phi(x), the second antiderivative of the standard normal density."""
    return x * ndtr(x) + np.exp(-0.5 * x**2) / math.sqrt(2.0 * math.pi)


def energy_kernel(sigma_bins: float, half_width: int) -> np.ndarray:
    """Weights (2 half_width + 1,) of a bin-averaged mode spread over bins d = -h..h by a Gaussian.

    ``sigma_bins``: Gaussian sigma in units of the bin width (0 gives a single bin). Sum 1 up to
    the truncated tails.
    """
    d = np.arange(-half_width, half_width + 1, dtype=float)
    if sigma_bins == 0:
        return (d == 0).astype(float)
    s = sigma_bins
    g = _gaussian_antiderivative_2
    return s * (g((d + 1) / s) - 2.0 * g(d / s) + g((d - 1) / s))


def pixel_kernel(sigma_pixels: float, half_width: int) -> np.ndarray:
    """Weights (2 half_width + 1,): a Gaussian centred on pixel 0 averaged over pixels d = -h..h.

    ``sigma_pixels``: Gaussian sigma in units of the pixel width (0 gives a single pixel).
    """
    d = np.arange(-half_width, half_width + 1, dtype=float)
    if sigma_pixels == 0:
        return (d == 0).astype(float)
    return ndtr((d + 0.5) / sigma_pixels) - ndtr((d - 0.5) / sigma_pixels)


def separable_psf(
    sigma_e_bins: float,
    sigma_h_pixels: float,
    sigma_k_pixels: float,
    max_shape: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """3D PSF (E, H, K) = energy_kernel x pixel_kernel x pixel_kernel, normalised to sum 1.

    Each axis has an odd length and covers the Gaussian to ``PSF_TAIL_SIGMAS`` sigma beyond the
    central bin (energy) or the central pixel's centre (H, K); ``max_shape`` caps the lengths to
    the largest odd length that fits each axis.
    """
    sigmas = (sigma_e_bins, sigma_h_pixels, sigma_k_pixels)
    if any(not (np.isfinite(s) and s >= 0) for s in sigmas):
        raise ValueError(f"separable_psf: sigmas must be finite and >= 0, got {sigmas}")
    halves = [  # bins reached from anywhere in bin 0; pixels reached from pixel 0's centre
        math.ceil(PSF_TAIL_SIGMAS * sigma_e_bins),
        math.ceil(PSF_TAIL_SIGMAS * sigma_h_pixels + 0.5) - 1,
        math.ceil(PSF_TAIL_SIGMAS * sigma_k_pixels + 0.5) - 1,
    ]
    if max_shape is not None:
        halves = [min(h, (n - 1) // 2) for h, n in zip(halves, max_shape, strict=True)]
    e = energy_kernel(sigma_e_bins, halves[0])
    h = pixel_kernel(sigma_h_pixels, halves[1])
    k = pixel_kernel(sigma_k_pixels, halves[2])
    psf = e[:, None, None] * h[None, :, None] * k[None, None, :]
    return psf / psf.sum()


def resolution_widths(
    layout: Layout2D,
    i_ei: int,
    energy_width_factor: float = TOBYFIT_ENERGY_WIDTH_FACTOR,
    q_resolution: bool = True,
) -> tuple[float, float, float]:
    """(sigma_E in bins, sigma_H in pixels, sigma_K in pixels) of the ``i_ei``-th Ei's block.

    sigma_E is the mean over that Ei's bin centres of ``EnergyResolution.sigma_mev`` divided by
    the bin width; sigma_H, sigma_K are ``q_resolution_sigma_rlu`` over ``layout.pixel_width``
    (0 without Q resolution).
    """
    if not 0 <= i_ei < len(layout.ei_mev):
        raise ValueError(f"i_ei={i_ei} is not one of the layout's {len(layout.ei_mev)} Ei")
    ei, hz = float(layout.ei_mev[i_ei]), float(layout.chopper_hz[i_ei])
    edges = layout.ebin_edges(ei)
    centres = 0.5 * (edges[1:] + edges[:-1])
    sigma_e = EnergyResolution(ei, hz, energy_width_factor).sigma_mev(centres).mean()
    sigma_e_bins = float(sigma_e / (edges[1] - edges[0]))
    if not q_resolution:
        return sigma_e_bins, 0.0, 0.0
    sigma_h, sigma_k = q_resolution_sigma_rlu(ei)
    return sigma_e_bins, sigma_h / layout.pixel_width, sigma_k / layout.pixel_width


def resolution_psf(
    layout: Layout2D,
    i_ei: int,
    energy_width_factor: float = TOBYFIT_ENERGY_WIDTH_FACTOR,
    q_resolution: bool = True,
) -> np.ndarray:
    """PSF (E, H, K) of the ``i_ei``-th Ei's (n_ebins, n_pix, n_pix) block; sum 1, odd lengths.

    Widths from ``resolution_widths``; lengths capped to the block's shape.
    """
    widths = resolution_widths(layout, i_ei, energy_width_factor, q_resolution)
    return separable_psf(*widths, max_shape=(layout.n_ebins, layout.n_pix, layout.n_pix))


Deconvolution = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (volume, psf) -> volume


def _deconvolve(
    spectra: np.ndarray, layout: Layout2D, settings: BaselineSettings, method: Deconvolution
) -> np.ndarray:
    spectra = check_spectra(spectra, layout.shape, "the layout")
    covered = layout.split(~np.isnan(spectra))  # (n, n_ei, n_ebins, n_pix, n_pix)
    blocks = np.clip(layout.split(fill_masked(spectra)), 0.0, None).astype(np.float64)
    psfs = [
        resolution_psf(layout, i, settings.energy_width_factor, settings.q_resolution)
        for i in range(len(layout.ei_mev))
    ]
    out = np.zeros_like(blocks)
    for n, i in np.ndindex(blocks.shape[:2]):
        result = np.clip(method(blocks[n, i], psfs[i]), 0.0, None)
        total_in, total_out = blocks[n, i][covered[n, i]].sum(), result[covered[n, i]].sum()
        if total_out > 0:
            out[n, i] = result * (total_in / total_out)
    image = layout.assemble(out).astype(np.float32)
    image[np.isnan(spectra)] = np.nan
    return image


def richardson_lucy_spectra(
    spectra: np.ndarray, layout: Layout2D, settings: BaselineSettings = BaselineSettings()
) -> np.ndarray:
    """Richardson-Lucy deconvolution (``settings.rl_iterations``) of (n, rows, cols) spectra.

    Input: intensities of the layout's shape, NaN = uncovered. Returns float32 of the same shape,
    >= 0, NaN where the input is NaN, each Ei block's covered sum preserved (module docstring).
    """

    def method(volume: np.ndarray, psf: np.ndarray) -> np.ndarray:
        return richardson_lucy(volume, psf, num_iter=settings.rl_iterations, clip=False)

    return _deconvolve(spectra, layout, settings, method)


def wiener_spectra(
    spectra: np.ndarray, layout: Layout2D, settings: BaselineSettings = BaselineSettings()
) -> np.ndarray:
    """Wiener deconvolution of (n, rows, cols) spectra: filter conj(H) / (|H|^2 + balance).

    The classical Wiener filter with a constant noise-to-signal ratio ``settings.wiener_balance``
    (scikit-image's ``wiener`` with an identity regulariser). Same input and output conventions
    as ``richardson_lucy_spectra``.
    """

    def method(volume: np.ndarray, psf: np.ndarray) -> np.ndarray:
        # Transfer function on the volume's grid (real: the PSF is symmetric about its centre).
        transfer = uft.ir2tf(psf, volume.shape, is_real=True)
        identity = np.ones_like(transfer)
        return wiener(
            volume, transfer, settings.wiener_balance, reg=identity, is_real=True, clip=False
        )

    return _deconvolve(spectra, layout, settings, method)
