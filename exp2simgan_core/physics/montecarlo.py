"""Brute-force Monte Carlo resolution convolution: the reference for the fast method in spectra.py.

For every pixel of one panel, quasi-random (scrambled Sobol) samples of (H, K) inside the pixel
plus a Gaussian in-plane Q-resolution offset, and of the energy transfer E inside the bin; at each
sample the spin waves are diagonalised afresh, L follows the kinematics at the sampled E (not at
the mode energy), and each mode contributes S_perp times the Gaussian energy-resolution density
at E.
The pixel value is the sample mean, per meV like the fast method.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri
from scipy.stats import qmc

from .instrument import q_resolution_sigma_rlu
from .layout import Layout2D
from .modes import mode_field, mode_intensities
from .spectra import SpectrumCalculator


def monte_carlo_panel(
    calc: SpectrumCalculator,
    params,
    i_ei: int,
    j_bin: int,
    n_samples: int = 1024,
    seed: int = 0,
    window: tuple[slice, slice] = (slice(None), slice(None)),
) -> np.ndarray:
    """Panel (rows H, columns K) of the convolved spectrum of ``calc.model``.

    ``window`` selects the pixel rows and columns of the panel to compute (default: all).
    """
    layout = calc.settings.layout
    if not isinstance(layout, Layout2D):
        raise ValueError("monte_carlo_panel needs a 2D layout")
    ei, hz, edges = calc.blocks[i_ei]
    width = layout.pixel_width
    rows, cols = layout.hk_centres()[window[0]], layout.hk_centres()[window[1]]
    u = qmc.Sobol(d=5, scramble=True, seed=seed).random(n_samples)  # (s, 5)
    sig_h, sig_k = q_resolution_sigma_rlu(ei) if calc.settings.q_resolution else (0.0, 0.0)
    dh = (u[:, 0] - 0.5) * width + sig_h * ndtri(u[:, 3])
    dk = (u[:, 1] - 0.5) * width + sig_k * ndtri(u[:, 4])
    energy = edges[j_bin] + u[:, 2] * (edges[j_bin + 1] - edges[j_bin])
    h = rows[:, None, None] + dh[None, None, :]
    k = cols[None, :, None] + dk[None, None, :]
    h, k = np.broadcast_arrays(h, k)
    a, b = calc.model.lattice_ab
    q_lab = np.stack([2 * np.pi * h.ravel() / a, 2 * np.pi * k.ravel() / b], axis=1)
    e_all = np.broadcast_to(energy, h.shape).ravel()
    system = calc.model.build(calc.model.check_params(params))
    energies, sigmas = calc._sigma_tables[(ei, hz)]
    total = np.zeros(len(q_lab))
    for twin in calc.twins:
        field = mode_field(system, twin, q_lab, "cpu")  # the reference: numpy on the CPU
        inten = twin.weight * mode_intensities(field, twin, ei, e_all)
        sigma = np.interp(field.omega, energies, sigmas)
        density = np.exp(-0.5 * ((e_all[:, None] - field.omega) / sigma) ** 2)
        total += np.sum(inten * density / (np.sqrt(2 * np.pi) * sigma), axis=1)
    return total.reshape(len(rows), len(cols), n_samples).mean(axis=-1)
