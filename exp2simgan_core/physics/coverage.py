"""Which (H, K, E) pixels the MAPS detectors see: the tube geometry and the coverage mask.

Frame and conventions as in :mod:`instrument`: the crystal c axis lies along the incident beam,
a* horizontal and b* vertical on the instrument, ``Q = k_i - k_f``. Energies in meV, wavevectors
in 1/Angstrom, in-plane momenta in r.l.u. of the a, b cell, detector lengths in m, angles in deg.

Contents: the detector windows of MAPS (``DetectorWindow``, ``MAPS_WINDOWS``) and the coverage
model fitted to the measured mask (``CoverageModel``, ``uncovered_mask``, ``uncovered_volume``).
The measured coverage mask quoted below is the read-only reference file in ``../shared/data``
(Butler et al. 2021); nothing here reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from exp2simgan_core.physics.instrument import (
    LATTICE_AB,
    NEUTRON_E2K,
    TUBE_PITCH_DEG,
    inplane_q_inv_a,
)
from exp2simgan_core.physics.layout import Layout2D, Layout3D

# Approximate MAPS detector geometry after the Mantid instrument definition (MAPS_Definition.xml,
# valid from 2017): 1.07 m long 3He tubes (1.44 m in the D windows, 0.45 m in the E windows) in
# packs of 8 or 10 tubes, each tube on a cylinder of radius 6 m about its own axis through the
# sample, at an elevation angle (about the tube axis) that steps by TUBE_PITCH_DEG inside a pack.
# Lab frame (Mantid's): z along the beam, y up, x horizontal (left seen downstream). Windows A
# (horizontal band, tubes vertical) cover 3-20 deg both sides; C continues it to 60 deg on one
# side (-x); B (tubes horizontal) covers 6-20 deg up and down; D the four corners; E two short
# packs just above and below the beam hole.
SAMPLE_DETECTOR_M = 6.0


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
# uncovered pixels 0.897, 20.0 % uncovered vs 20.1 %; see tests/test_coverage.py). Without
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
