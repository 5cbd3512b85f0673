"""The MAPS direct-geometry spectrometer: kinematics, resolution and detector coverage.

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
model in ``resins`` scaled to the Tobyfit tables (``EnergyResolution``), the in-plane Q
resolution (``q_resolution_sigma_rlu``) and the detector coverage from the MAPS tube geometry
(``CoverageModel``, ``uncovered_mask``, ``uncovered_volume``). The Tobyfit resolution tables
and the measured coverage mask quoted below are the read-only reference files in
``../shared/data`` (Butler et al. 2021); nothing here reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from exp2simgan_core.physics.layout import Layout2D, Layout3D

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
    ndarray
        ``Q_z = k_i - sqrt(k_f^2 - Q_inplane^2)`` (forward branch), broadcast shape; NaN where
        ``k_f < Q_inplane`` or ``E > Ei`` (kinematically forbidden).

    Examples
    --------
    >>> float(kinematic_qz(50.0, 0.0, 0.0))
    0.0
    """
    if not np.isfinite(ei_mev) or ei_mev <= 0:
        raise ValueError(f"kinematic_qz: ei_mev must be a positive finite energy, got {ei_mev}")
    ki = np.sqrt(ei_mev / NEUTRON_E2K)
    kf_sq = (ei_mev - np.asarray(energy_transfer_mev, dtype=float)) / NEUTRON_E2K
    kfz_sq = kf_sq - np.asarray(q_inplane_inv_a, dtype=float) ** 2
    with np.errstate(invalid="ignore"):
        return np.where(kfz_sq >= 0, ki - np.sqrt(np.where(kfz_sq >= 0, kfz_sq, np.nan)), np.nan)


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


# Approximate MAPS detector geometry after the Mantid instrument definition (MAPS_Definition.xml,
# valid from 2017): 1.07 m long 3He tubes (1.44 m in the D windows, 0.45 m in the E windows) in
# packs of 8 or 10 tubes, each tube on a cylinder of radius 6 m about its own axis through the
# sample, at an elevation angle (about the tube axis) that steps by TUBE_PITCH_DEG inside a pack.
# Lab frame (Mantid's): z along the beam, y up, x horizontal (left seen downstream). Windows A
# (horizontal band, tubes vertical) cover 3-20 deg both sides; C continues it to 60 deg on one
# side (-x); B (tubes horizontal) covers 6-20 deg up and down; D the four corners; E two short
# packs just above and below the beam hole.
SAMPLE_DETECTOR_M = 6.0
TUBE_PITCH_DEG = 0.2626


@dataclass(frozen=True)
class DetectorWindow:
    """Packs of parallel tubes sharing one orientation.

    Tube axis along window x; a tube at elevation ``e`` (deg, about window x) has its pixel
    centres at ``(x, R sin e, R cos e)``, ``|x - offset_m| <= tube_half_length_m``. Window frame
    -> lab: rotate by ``rot_vertical_deg`` about y, then by ``rot_beam_deg`` about z (-90 deg
    turns the tubes vertical and the elevation horizontal, towards +x).
    """

    pack_starts_deg: tuple[float, ...]  # elevation of each pack's first tube, deg (sign = side)
    pack_tubes: tuple[int, ...]  # tubes per pack
    tube_half_length_m: float
    rot_beam_deg: float = 0.0
    rot_vertical_deg: float = 0.0
    offset_m: float = 0.0

    def pack_intervals_deg(self) -> np.ndarray:
        """(n_packs, 2) elevation range of the tube centres of each pack, deg, low < high."""
        ends = [
            s + np.sign(s) * (n - 1) * TUBE_PITCH_DEG
            for s, n in zip(self.pack_starts_deg, self.pack_tubes, strict=True)
        ]
        return np.sort(np.stack([self.pack_starts_deg, ends], axis=1), axis=1)


def _mirror(starts: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(-s for s in starts)


_A = (3.0, 5.1008, 7.2016, 9.3024, 11.6658, 13.7666, 15.8674, 17.9682)
_B = (6.1512, 8.2520, 10.8780, 13.2414, 15.3422, 17.9682)
_B_TUBES = (8, 10, 8, 8, 10, 8)
_C = tuple(s + 9.9788 * i for i in range(4) for s in (21.1194, 23.2202, 25.8462, 27.9470))
_D = (6.1512, 8.2520, 10.3528, 12.7162, 14.8170, 16.9178)
_ABC_HALF, _D_HALF, _E_HALF = 0.535898, 0.715693, 0.222129  # outermost pixel centre, m
_D_ROT, _D_SHIFT = 12.655, 0.0412

MAPS_WINDOWS = (
    DetectorWindow(_A, (8,) * 8, _ABC_HALF, rot_beam_deg=-90.0),  # A1, +x
    DetectorWindow(_mirror(_A), (8,) * 8, _ABC_HALF, rot_beam_deg=-90.0),  # A2, -x
    DetectorWindow(_mirror(_C), (8, 10, 8, 8) * 4, _ABC_HALF, rot_beam_deg=-90.0),  # C1-C4
    DetectorWindow(_B, _B_TUBES, _ABC_HALF),  # B1, up
    DetectorWindow(_mirror(_B), _B_TUBES, _ABC_HALF),  # B2, down
    DetectorWindow(_D, (8,) * 6, _D_HALF, rot_vertical_deg=_D_ROT, offset_m=_D_SHIFT),
    DetectorWindow(_D, (8,) * 6, _D_HALF, rot_vertical_deg=-_D_ROT, offset_m=-_D_SHIFT),
    DetectorWindow(_mirror(_D), (8,) * 6, _D_HALF, rot_vertical_deg=-_D_ROT, offset_m=-_D_SHIFT),
    DetectorWindow(_mirror(_D), (8,) * 6, _D_HALF, rot_vertical_deg=_D_ROT, offset_m=_D_SHIFT),
    DetectorWindow((3.0,), (8,), _E_HALF),  # E1, just above the beam hole
    DetectorWindow((-3.0,), (8,), _E_HALF),  # E2, just below
)

# Fitted to ../shared/data/maps_uncovered_mask.npy (a Horace cut's zero pattern; IoU of the
# uncovered pixels 0.897, 20.0 % uncovered vs 20.1 %; see tests/test_instrument.py). Without
# the tilt the IoU drops to 0.75, without the tube-end mask to 0.73.
CRYSTAL_TILT_DEG = (-1.4, 0.3, 0.2)  # sample misalignment: rotations about lab x, y, z, deg
TUBE_END_MASK_M = 0.04  # masked (dead) length at each tube end, m
PACK_EDGE_MARGIN_DEG = 0.15  # a pack covers its tube centres' elevations +- this, deg
# Horace keeps a pixel when any detector-element/energy point falls in it, so "covered" means
# at least one sample of the 3 x 3 x 4 grid (1/36 > 0.025) hits a tube.
MIN_COVERED_FRACTION = 0.025
SUBSAMPLES_HK = 3  # samples per pixel along H and along K
SUBSAMPLES_E = 4  # samples per energy bin


def _rotation(axis: int, angle_deg: float) -> np.ndarray:
    """3 x 3 right-handed rotation about lab axis 0 (x), 1 (y) or 2 (z)."""
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    rot = np.eye(3)
    rot[i, i], rot[i, j], rot[j, i], rot[j, j] = c, -s, s, c
    return rot


@dataclass(frozen=True)
class _WindowFrame:
    """Directions seen from one window orientation: tube-axis coordinate and elevation."""

    x: np.ndarray  # along the tube axis (any length unit, as kf_lab)
    rho: np.ndarray  # distance from the tube axis
    elevation_deg: np.ndarray  # angle about the tube axis from the window's z
    forward: np.ndarray  # z > 0: towards the window, not away from it


def _window_frame(kf_lab: np.ndarray, rot_beam_deg: float, rot_vertical_deg: float) -> _WindowFrame:
    to_window = (_rotation(2, rot_beam_deg) @ _rotation(1, rot_vertical_deg)).T
    x, y, z = np.moveaxis(kf_lab @ to_window.T, -1, 0)
    with np.errstate(invalid="ignore"):
        elevation = np.degrees(np.arctan2(y, z))
    return _WindowFrame(x, np.hypot(y, z), elevation, z > 0)


def _frame_hits(
    window: DetectorWindow, frame: _WindowFrame, end_mask_m: float, edge_margin_deg: float
) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        along = SAMPLE_DETECTOR_M * frame.x / frame.rho - window.offset_m
    hit = np.abs(along) <= window.tube_half_length_m - end_mask_m
    in_pack = np.zeros_like(hit)
    elevation = frame.elevation_deg
    for lo, hi in window.pack_intervals_deg():
        in_pack |= (elevation >= lo - edge_margin_deg) & (elevation <= hi + edge_margin_deg)
    return hit & in_pack & frame.forward


def window_hits(
    window: DetectorWindow,
    kf_lab: np.ndarray,
    end_mask_m: float = 0.0,
    edge_margin_deg: float = 0.0,
) -> np.ndarray:
    """True where directions ``kf_lab`` (..., 3) (lab frame, any length) hit the window's tubes."""
    frame = _window_frame(kf_lab, window.rot_beam_deg, window.rot_vertical_deg)
    return _frame_hits(window, frame, end_mask_m, edge_margin_deg)


@dataclass(frozen=True)
class CoverageModel:
    """Which (H, K, E) pixels the MAPS detectors see, crystal c along the beam, a* along lab x.

    Orientation (established from the reference mask): H is the horizontal axis, so the
    one-sided high-angle band (C windows, -x) shows at +H, where k_f = k_i - Q points to -x;
    b* is along +y (up; the geometry is up-down symmetric up to the fitted tilt).
    A pixel (with its energy bin) is sampled on a ``n_sub_hk x n_sub_hk x n_sub_e`` grid; each
    sample gives k_f = k_i - Q (the crystal's Q_c solved from the kinematics, forward branch,
    with the crystal rotated by ``tilt_deg``), and the pixel is covered when at least
    ``min_covered_fraction`` of the samples hit a tube. Kinematically forbidden samples miss.
    """

    lattice_ab: tuple[float, float] = LATTICE_AB  # Angstrom
    windows: tuple[DetectorWindow, ...] = MAPS_WINDOWS
    tilt_deg: tuple[float, float, float] = CRYSTAL_TILT_DEG
    end_mask_m: float = TUBE_END_MASK_M
    edge_margin_deg: float = PACK_EDGE_MARGIN_DEG
    min_covered_fraction: float = MIN_COVERED_FRACTION
    n_sub_hk: int = SUBSAMPLES_HK
    n_sub_e: int = SUBSAMPLES_E
    _orientation: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.n_sub_hk < 1 or self.n_sub_e < 1:
            raise ValueError(
                f"CoverageModel: n_sub_hk={self.n_sub_hk} and n_sub_e={self.n_sub_e} must be >= 1"
            )
        if not 0 < self.min_covered_fraction <= 1:
            raise ValueError(
                "CoverageModel: min_covered_fraction must be in (0, 1], got "
                f"{self.min_covered_fraction}"
            )
        tx, ty, tz = self.tilt_deg
        u = _rotation(2, tz) @ _rotation(1, ty) @ _rotation(0, tx)  # crystal -> lab
        object.__setattr__(self, "_orientation", u)

    def hits(self, kf_lab: np.ndarray) -> np.ndarray:
        """True where lab directions ``kf_lab`` (..., 3) land on a detector tube."""
        out = np.zeros(kf_lab.shape[:-1], dtype=bool)
        frames: dict[tuple[float, float], _WindowFrame] = {}  # windows sharing an orientation
        for window in self.windows:
            key = (window.rot_beam_deg, window.rot_vertical_deg)
            if key not in frames:
                frames[key] = _window_frame(kf_lab, *key)
            out |= _frame_hits(window, frames[key], self.end_mask_m, self.edge_margin_deg)
        return out

    def scattered_wavevectors(self, ei_mev, energy_mev, h_rlu, k_rlu) -> np.ndarray:
        """Lab-frame k_f (1/Angstrom), shape broadcast(energy, h, k) + (3,); NaN if forbidden.

        Solves |k_i z - U (Q_H, Q_K, Q_c)| = k_f for the crystal's Q_c (forward branch), with U
        the crystal orientation (``tilt_deg`` about lab x, y, z; identity = c along the beam).
        """
        u = self._orientation
        qh, qk = inplane_q_inv_a(h_rlu, k_rlu, self.lattice_ab)
        qh, qk, energy = np.broadcast_arrays(qh, qk, np.asarray(energy_mev, dtype=float))
        p = -(qh[..., None] * u[:, 0] + qk[..., None] * u[:, 1])
        p[..., 2] += np.sqrt(ei_mev / NEUTRON_E2K)  # p = k_i - U (Q_H, Q_K, 0)
        pu = p @ u[:, 2]
        disc = pu**2 - (p**2).sum(-1) + (ei_mev - energy) / NEUTRON_E2K
        with np.errstate(invalid="ignore"):
            qc = pu - np.sqrt(np.where(disc >= 0, disc, np.nan))  # forward branch
        return p - qc[..., None] * u[:, 2]

    def covered_fraction(
        self, ei_mev: float, e_edges: np.ndarray, hk_centres: np.ndarray, pixel_width: float
    ) -> np.ndarray:
        """Fraction of samples on a tube, shape (n_pix(H), n_pix(K), n_bins)."""
        n, m, ns = len(hk_centres), self.n_sub_e, self.n_sub_hk
        offsets = ((np.arange(ns) + 0.5) / ns - 0.5) * pixel_width
        sub = (np.asarray(hk_centres)[:, None] + offsets).ravel()  # (n * ns,)
        out = np.empty((n, n, len(e_edges) - 1))
        for b, (lo, hi) in enumerate(zip(e_edges[:-1], e_edges[1:], strict=True)):
            energy = lo + (np.arange(m) + 0.5) / m * (hi - lo)
            kf = self.scattered_wavevectors(
                ei_mev, energy[:, None, None], sub[None, :, None], sub[None, None, :]
            )
            hit = self.hits(kf).reshape(m, n, ns, n, ns)
            out[:, :, b] = hit.mean(axis=(0, 2, 4))
        return out

    def uncovered_mask(self, layout: Layout2D) -> np.ndarray:
        """bool (n_ei * n_pix, n_ebins * n_pix), True where no detector covers the pixel."""
        hk = layout.hk_centres()
        panels = [
            self.covered_fraction(ei, layout.ebin_edges(ei), hk, layout.pixel_width)
            for ei in layout.ei_mev
        ]  # each (n_pix(H), n_pix(K), n_ebins)
        fraction = np.moveaxis(np.stack(panels), -1, 1)  # (n_ei, n_ebins, H, K)
        return layout.assemble(fraction < self.min_covered_fraction)

    def uncovered_volume(self, layout: Layout3D) -> np.ndarray:
        """bool (n_pix(H), n_pix(K), n_e), True where no detector covers the voxel."""
        fraction = self.covered_fraction(
            layout.ei_mev, layout.ebin_edges(), layout.hk_centres(), layout.pixel_width
        )
        return fraction < self.min_covered_fraction


@lru_cache(maxsize=8)
def _default_coverage(layout: Layout2D | Layout3D, lattice_ab: tuple[float, float]) -> np.ndarray:
    model = CoverageModel(lattice_ab=lattice_ab)
    if isinstance(layout, Layout3D):
        return model.uncovered_volume(layout)
    return model.uncovered_mask(layout)


def uncovered_mask(layout: Layout2D, lattice_ab: tuple[float, float] = LATTICE_AB) -> np.ndarray:
    """MAPS no-coverage mask of a 2D layout image, bool of ``layout.shape`` (True = uncovered).

    The default ``CoverageModel`` (IoU 0.90 with the measured mask of the paper's layout);
    cached per (layout, lattice), a fresh copy each call.
    """
    if not isinstance(layout, Layout2D):
        raise ValueError(f"uncovered_mask: layout must be a Layout2D, got {type(layout).__name__}")
    return _default_coverage(layout, tuple(map(float, lattice_ab))).copy()


def uncovered_volume(layout: Layout3D, lattice_ab: tuple[float, float] = LATTICE_AB) -> np.ndarray:
    """MAPS no-coverage mask of an (H, K, E) volume, bool (n_pix, n_pix, n_e), True = uncovered."""
    if not isinstance(layout, Layout3D):
        raise ValueError(
            f"uncovered_volume: layout must be a Layout3D, got {type(layout).__name__}"
        )
    return _default_coverage(layout, tuple(map(float, lattice_ab))).copy()
