"""The MAPS direct-geometry spectrometer: kinematics and resolution.

Frame and conventions
---------------------
The crystal c axis lies along the incident beam, a* horizontal and b* vertical on the
instrument. ``Q = k_i - k_f`` (momentum given to the sample), so the in-plane components of
the scattered wavevector are ``-Q_H`` and ``-Q_K`` and its component along the beam is
``sqrt(k_f^2 - Q_inplane^2)`` (forward branch). Energies are in meV, wavevectors in 1/Angstrom,
in-plane momenta in reciprocal lattice units (r.l.u.) of the a = 5.408, b = 5.4599 Angstrom
cell unless a name says otherwise. Resolution widths are Gaussian standard deviations (sigma),
never FWHM (``FWHM = SIGMA_TO_FWHM * sigma``).

Contents: kinematics (``kinematic_qz``, ``kinematic_l``), the energy resolution of the PyChop
model in ``resins`` scaled to the Tobyfit tables (``EnergyResolution``) and the in-plane Q
resolution (``q_resolution_sigma_rlu``). The detector coverage from the MAPS tube geometry
(``CoverageModel``, ``uncovered_mask``, ``uncovered_volume``) is in :mod:`coverage`. The Tobyfit
resolution tables quoted below are the read-only reference files in ``../shared/data`` (Butler
et al. 2021); nothing here reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .arrays import arrays_of

NEUTRON_E2K = 2.0721  # E [meV] = NEUTRON_E2K * k^2 [1/Angstrom^2]
SIGMA_TO_FWHM = float(np.sqrt(8.0 * np.log(2.0)))
LATTICE_AB = (5.408, 5.4599)  # in-plane lattice constants a, b, Angstrom
LATTICE_C = 19.266  # Angstrom
MAPS_CHOPPER_PACKAGE = "S"  # Fermi chopper package used for every Ei of the paper

# Energy width: the Tobyfit tables' sigma_E divided by PyChop's (resins, chopper 'S') is
# 1.17-1.36 near E = 0 and grows to 1.29-1.48 at E = 0.7 Ei. Least-squares best scale of
# PyChop's sigma over 0.1-0.7 Ei, per Ei (measured in tests/test_instrument.py):
# 25: 1.43, 35: 1.28, 50: 1.25, 70: 1.27, 100: 1.27, 140: 1.25. Default: their mean; the
# scaled PyChop width then matches the tables within 13 % at every E in 0.1-0.7 Ei.
TOBYFIT_ENERGY_WIDTH_FACTOR = 1.29

# In-plane Q resolution: the Tobyfit tables give sigma_h ~= sigma_k proportional to k_i
# (angular divergence times k_i): sigma [r.l.u.] = Q_RES_SIGMA_PER_KI * k_i [1/Angstrom],
# from the rms sigma over |H|, |K| <= 1.1 and 0.1-0.7 Ei; agreement within 2.5 % per Ei.
Q_RES_SIGMA_H_PER_KI = 2.590e-3  # r.l.u. per 1/Angstrom
Q_RES_SIGMA_K_PER_KI = 2.590e-3  # r.l.u. per 1/Angstrom


def wavevector(energy_mev: np.ndarray | float) -> np.ndarray:
    """Neutron wavevector magnitude, 1/Angstrom, for kinetic energies in meV (any shape, >= 0)."""
    energy = np.asarray(energy_mev, dtype=float)
    if np.any(energy < 0):
        raise ValueError(f"wavevector: energy_mev must be >= 0, got min {energy.min()} meV")
    return np.sqrt(energy / NEUTRON_E2K)


def kinematic_qz(
    ei_mev: float, energy_transfer_mev: np.ndarray | float, q_inplane_inv_a: np.ndarray | float
) -> np.ndarray:
    """Momentum transfer along the beam (crystal c), 1/Angstrom, fixed by the kinematics.

    Parameters
    ----------
    ei_mev : float
        Incident energy, meV (> 0).
    energy_transfer_mev : array_like
        Energy transfer E = Ei - Ef, meV, broadcast against ``q_inplane_inv_a``.
    q_inplane_inv_a : array_like
        Magnitude of the in-plane momentum transfer, 1/Angstrom.

    Returns
    -------
    ndarray, or a torch tensor where an input is one
        ``Q_z = k_i - sqrt(k_f^2 - Q_inplane^2)`` (forward branch), broadcast shape; NaN where
        ``k_f < Q_inplane`` or ``E > Ei`` (kinematically forbidden).

    Examples
    --------
    >>> float(kinematic_qz(50.0, 0.0, 0.0))
    0.0
    """
    if not np.isfinite(ei_mev) or ei_mev <= 0:
        raise ValueError(f"kinematic_qz: ei_mev must be a positive finite energy, got {ei_mev}")
    arrays = arrays_of(energy_transfer_mev, q_inplane_inv_a)
    xp = arrays.xp
    ki = np.sqrt(ei_mev / NEUTRON_E2K)
    kf_sq = (ei_mev - arrays.asarray(energy_transfer_mev, dtype="float64")) / NEUTRON_E2K
    kfz_sq = kf_sq - arrays.asarray(q_inplane_inv_a, dtype="float64") ** 2
    with np.errstate(invalid="ignore"):
        return xp.where(kfz_sq >= 0, ki - xp.sqrt(xp.where(kfz_sq >= 0, kfz_sq, np.nan)), np.nan)


def kinematic_l(
    ei_mev: float,
    energy_transfer_mev: np.ndarray | float,
    q_inplane_inv_a: np.ndarray | float,
    c_angstrom: float = LATTICE_C,
) -> np.ndarray:
    """L in r.l.u. of c: ``L = c / (2 pi) * kinematic_qz(...)``; NaN where forbidden."""
    return c_angstrom / (2.0 * np.pi) * kinematic_qz(ei_mev, energy_transfer_mev, q_inplane_inv_a)


def inplane_q_inv_a(h_rlu, k_rlu, lattice_ab: tuple[float, float] = LATTICE_AB):
    """In-plane momentum components (Q_H, Q_K) in 1/Angstrom from (H, K) in r.l.u."""
    a, b = lattice_ab
    return 2.0 * np.pi * np.asarray(h_rlu) / a, 2.0 * np.pi * np.asarray(k_rlu) / b


@lru_cache(maxsize=64)
def _pychop_function(ei_mev: float, chopper_hz: float):
    """resins resolution function for MAPS chopper 'S', cached per (Ei, frequency)."""
    from resins import Instrument
    from resins.models.model_base import InvalidInputError

    maps = Instrument.from_default("MAPS")
    try:
        return maps.get_resolution_function(
            "PyChop_fit",
            chopper_package=MAPS_CHOPPER_PACKAGE,
            e_init=ei_mev,
            chopper_frequency=chopper_hz,
        )
    except InvalidInputError as err:
        limits = maps.get_model_data("PyChop_fit").restrictions
        raise ValueError(
            f"MAPS resolution: ei_mev={ei_mev}, chopper_hz={chopper_hz} rejected ({err}); "
            f"allowed: e_init in {limits['e_init']} meV, chopper_frequency "
            f"{limits['chopper_frequency'][0]}-{limits['chopper_frequency'][1] - 1} Hz "
            f"in steps of {limits['chopper_frequency'][2]}"
        ) from err


@dataclass(frozen=True)
class EnergyResolution:
    """Gaussian energy resolution of MAPS (PyChop fit via ``resins``, Fermi chopper 'S').

    ``scale`` multiplies PyChop's sigma; its default ``TOBYFIT_ENERGY_WIDTH_FACTOR`` matches
    the Tobyfit tables of the paper's data (whose FWHM at E = 0 is 1.2-1.35 x PyChop's).
    Invalid Ei (outside 0-2000 meV) or frequency (not a multiple of 50 Hz in 50-600 Hz)
    raises ValueError on construction.
    """

    ei_mev: float  # incident energy, meV
    chopper_hz: float  # Fermi chopper frequency, Hz
    scale: float = TOBYFIT_ENERGY_WIDTH_FACTOR  # multiplies PyChop's sigma

    def __post_init__(self) -> None:
        if not np.isfinite(self.scale) or self.scale <= 0:
            raise ValueError(f"EnergyResolution: scale must be > 0, got {self.scale}")
        if not np.isfinite(self.ei_mev) or self.ei_mev <= 0:
            raise ValueError(f"EnergyResolution: ei_mev must be > 0 meV, got {self.ei_mev}")
        _pychop_function(float(self.ei_mev), float(self.chopper_hz))

    def sigma_mev(self, energy_transfer_mev: np.ndarray | float) -> np.ndarray:
        """Gaussian sigma of the energy resolution, meV, same shape as the input.

        ``energy_transfer_mev`` (meV, any shape) must be finite and below ``ei_mev``.
        """
        energy = np.asarray(energy_transfer_mev, dtype=float)
        if not np.all(np.isfinite(energy)) or np.any(energy >= self.ei_mev):
            raise ValueError(
                "EnergyResolution.sigma_mev: energy_transfer_mev must be finite and below "
                f"ei_mev={self.ei_mev} meV, got range [{np.nanmin(energy)}, {np.nanmax(energy)}]"
            )
        func = _pychop_function(float(self.ei_mev), float(self.chopper_hz))
        sigma = func.get_characteristics(energy.reshape(-1, 1))["sigma"]
        return self.scale * np.asarray(sigma, dtype=float).reshape(energy.shape)


def q_resolution_sigma_rlu(ei_mev: float) -> tuple[float, float]:
    """In-plane Gaussian Q resolution (sigma_h, sigma_k), r.l.u. of the a, b cell.

    Parametrisation of the Tobyfit tables: ``sigma = Q_RES_SIGMA_*_PER_KI * k_i`` with k_i in
    1/Angstrom (FWHM 0.021 r.l.u. at 25 meV to 0.050 r.l.u. at 140 meV), an average over
    |H|, |K| <= 1.1 and 0.1-0.7 Ei (the local value varies by about +-12 % around it).
    """
    if not np.isfinite(ei_mev) or ei_mev <= 0:
        raise ValueError(f"q_resolution_sigma_rlu: ei_mev must be > 0 meV, got {ei_mev}")
    ki = float(np.sqrt(ei_mev / NEUTRON_E2K))
    return Q_RES_SIGMA_H_PER_KI * ki, Q_RES_SIGMA_K_PER_KI * ki


# Elevation step between neighbouring tubes of a MAPS detector pack, deg (the detector geometry
# is in coverage.py; experiment.py places dead tubes on it).
TUBE_PITCH_DEG = 0.2626
