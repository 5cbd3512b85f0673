"""Unconvolved and resolution-convolved INS spectra in the 2D image and 3D volume layouts.

Intensity unit: S_perp per magnetic site per meV (times |<j0>|^2, twin-averaged).

* Unconvolved, two definitions (``SpectrumSettings.unconvolved``), both at each pixel centre (H, K):

  - ``bin_centre`` (the paper's Methods: "the LSWT model was only evaluated at the nominal centre
    of the pixel (histogram bin)"): S(Q, E) at the bin-centre energy E_c, each mode broadened by an
    intrinsic Gaussian of ``intrinsic_fwhm_mev`` (the authors' ``model_eval.m`` passes 0.1 meV with
    ``'resfun', 'gauss'``), L from the kinematics at E_c. A point density per meV: a mode farther
    than a few widths from every bin centre is absent, and a 0.1 meV-FWHM mode exactly at a bin
    centre peaks at its weight times 9.39 per meV, so these spectra do not share the convolved
    spectra's scale (every network input is divided by its own mean, ``dataset.normalised``).
  - ``bin_integrated``: the modes whose energy falls inside the bin, their weight divided by the
    bin width (spectral weight per meV averaged over the bin), so convolved and unconvolved spectra
    share a scale; L follows the kinematics at each mode's energy.

* Convolved: each mode broadened by the MAPS energy resolution (Gaussian, ``resins``), integrated
  over the energy bin, evaluated on a sub-pixel grid (``oversample`` x ``oversample`` points per
  pixel plus a margin), blurred by the in-plane Gaussian Q resolution and averaged over the pixel.
* In both, L follows the MAPS kinematics at the mode energy (c along the beam), so L moves inside an
  energy bin. The bilayers are magnetically isolated, so one diagonalisation per in-plane point
  serves every L: the L dependence is the phase exp(-i Q_z z_i) per site (see :mod:`lswt`).
* Conventions: ``physical`` (default) averages two domains rotated by a proper 90 degrees about c,
  with kinematic L. ``horace`` reproduces the authors' MATLAB pipeline: twin 2 evaluated at
  (K, H, 0) with the correlations rotated by rotc = [0 1 0; 1 0 0; 0 0 0] (every c component
  dropped), and L = 0.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.special import ndtr

from ..util import DEVICES
from .formfactor import j0
from .instrument import (
    TOBYFIT_ENERGY_WIDTH_FACTOR,
    EnergyResolution,
    kinematic_qz,
    q_resolution_sigma_rlu,
)
from .layout import Layout2D, Layout3D
from .lswt import (
    SpinSystem,
    check_stable,
    colpa,
    hamiltonian,
    quadratic_form,
    s_perp,
    spectral_amplitudes,
)
from .models import ModelSpec

CONVENTIONS = ("physical", "horace")
UNCONVOLVED = ("bin_centre", "bin_integrated")  # definitions of the unconvolved spectrum
PAPER_INTRINSIC_FWHM_MEV = 0.1  # the authors' model_eval.m: 'resfun', 'gauss' with 0.1 meV
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
ZERO_MODE_MEV = 0.01  # modes below this are Goldstone/Bragg points: their weight is elastic
CHUNK = 2048  # wavevectors per batched diagonalisation
_ROT90 = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
_ROTC_HORACE = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


@dataclass(frozen=True)
class SpectrumSettings:
    """How spectra are computed (the physics is fixed by the model)."""

    layout: Layout2D | Layout3D = Layout2D()
    convention: str = "physical"  # physical | horace
    oversample: int = 3  # odd number of sub-pixel samples per axis in the convolution
    energy_width_factor: float = TOBYFIT_ENERGY_WIDTH_FACTOR  # x PyChop sigma
    q_resolution: bool = True  # apply the in-plane Gaussian Q resolution
    device: str = "auto"  # where spin waves are diagonalised: auto (CUDA if present) | cpu | cuda
    unconvolved: str = "bin_centre"  # bin_centre (the paper's) | bin_integrated
    intrinsic_fwhm_mev: float = PAPER_INTRINSIC_FWHM_MEV  # mode width of bin_centre, meV

    def __post_init__(self) -> None:
        if self.convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {CONVENTIONS}, got {self.convention!r}")
        if self.unconvolved not in UNCONVOLVED:
            raise ValueError(f"unconvolved must be one of {UNCONVOLVED}, got {self.unconvolved!r}")
        if not self.intrinsic_fwhm_mev > 0:
            raise ValueError(f"intrinsic_fwhm_mev must be > 0, got {self.intrinsic_fwhm_mev}")
        if self.oversample < 1 or self.oversample % 2 == 0:
            raise ValueError(f"oversample must be an odd integer >= 1, got {self.oversample}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if not self.energy_width_factor > 0:
            raise ValueError(f"energy_width_factor must be > 0, got {self.energy_width_factor}")


@dataclass(frozen=True)
class Twin:
    """One domain: weight, lab -> crystal map of in-plane Cartesian Q, crystal -> lab amplitudes."""

    weight: float
    to_crystal: np.ndarray  # (2, 2)
    amplitude_to_lab: np.ndarray  # (3, 3)
    kinematic_l: bool


def twins(model: ModelSpec, convention: str) -> tuple[Twin, ...]:
    use_l = convention == "physical"
    first = Twin(1.0, np.eye(2), np.eye(3), use_l)
    if not model.twinned:
        return (first,)
    a, b = model.lattice_ab
    if convention == "physical":
        second = Twin(0.5, _ROT90[:2, :2].T, _ROT90, True)
    else:  # crystal (K, H) in r.l.u. from lab (H, K)
        second = Twin(0.5, np.array([[0.0, b / a], [a / b, 0.0]]), _ROTC_HORACE, False)
    return (Twin(0.5, first.to_crystal, first.amplitude_to_lab, use_l), second)


@dataclass(frozen=True)
class FineGrid:
    """Sub-pixel sampling of the (H, K) plane: n_pix * oversample + 2 * margin points per axis."""

    centres: np.ndarray  # pixel centres, r.l.u.
    oversample: int
    margin: int

    @property
    def step(self) -> float:
        return float(self.centres[1] - self.centres[0]) / self.oversample

    @property
    def points(self) -> np.ndarray:
        o, m = self.oversample, self.margin
        n = len(self.centres) * o + 2 * m
        return self.centres[0] - ((o - 1) / 2 + m) * self.step + self.step * np.arange(n)

    @property
    def centre_index(self) -> np.ndarray:
        return self.margin + self.oversample * np.arange(len(self.centres)) + self.oversample // 2

    def block_average(self, fine: np.ndarray) -> np.ndarray:
        """(nf, nf, ...) -> (n_pix, n_pix, ...): mean over each pixel's sub-samples."""
        o, m, n = self.oversample, self.margin, len(self.centres)
        core = fine[m : m + n * o, m : m + n * o]
        return core.reshape(n, o, n, o, *fine.shape[2:]).mean(axis=(1, 3))


@dataclass(frozen=True)
class ModeField:
    """Spin waves of one twin on the fine grid, amplitudes summed per (layer z, ion) group."""

    omega: np.ndarray  # (nf*nf, n_modes) meV
    amplitudes: np.ndarray  # (nf*nf, n_modes, n_groups, 3) complex, crystal frame
    group_z: np.ndarray  # (n_groups,) Angstrom
    group_ions: tuple[str, ...]
    q_lab: np.ndarray  # (nf*nf, 2) in-plane lab Q, 1/Angstrom
    n_sites: int

    def subset(self, index: np.ndarray) -> ModeField:
        """The field at the wavevectors ``index`` (into the first axis) only."""
        return dataclasses.replace(
            self,
            omega=self.omega[index],
            amplitudes=self.amplitudes[index],
            q_lab=self.q_lab[index],
        )


def crystal_wavevectors(twin: Twin, q_lab: np.ndarray) -> np.ndarray:
    """(nq, 3) crystal wavevectors (k_z = 0) of ``twin`` for lab in-plane ``q_lab`` (nq, 2)."""
    k_crys = np.zeros((len(q_lab), 3))
    k_crys[:, :2] = q_lab @ twin.to_crystal.T
    return k_crys


def mode_field(
    system: SpinSystem, twin: Twin, q_lab: np.ndarray, device: str = "auto"
) -> ModeField:
    """Diagonalise at the crystal wavevectors of ``twin`` (k_z = 0) for lab in-plane ``q_lab``."""
    if not system.z_isolated():
        raise ValueError("the L shortcut needs bonds that stay inside one cell along c")
    site_keys = [
        (round(z, 6), ion) for z, ion in zip(system.positions[:, 2], system.ions, strict=True)
    ]
    keys = sorted(set(site_keys))
    member = np.array([[site == key for site in site_keys] for key in keys], dtype=float)
    form = quadratic_form(system)
    k_crys = crystal_wavevectors(twin, q_lab)
    omegas, amps = [], []
    for start in range(0, len(q_lab), CHUNK):
        omega, t = colpa(hamiltonian(form, k_crys[start : start + CHUNK]), device)
        amp = spectral_amplitudes(form, t)  # (nq, modes, sites, 3)
        omegas.append(omega)
        amps.append(np.einsum("qmsa,gs->qmga", amp, member).astype(np.complex64))
    return ModeField(
        omega=np.concatenate(omegas),
        amplitudes=np.concatenate(amps),
        group_z=np.array([k[0] for k in keys]),
        group_ions=tuple(k[1] for k in keys),
        q_lab=q_lab,
        n_sites=system.n_sites,
    )


def mode_intensities(
    field: ModeField, twin: Twin, ei_mev: float, energy_mev: np.ndarray | None = None
) -> np.ndarray:
    """S_perp per site of every mode at its kinematic Q for this Ei, shape (nq, n_modes).

    L follows the kinematics at the mode energy, or at ``energy_mev`` (nq,) when given.
    """
    qx = np.broadcast_to(field.q_lab[:, :1], field.omega.shape)
    qy = np.broadcast_to(field.q_lab[:, 1:], field.omega.shape)
    q_in = np.hypot(qx, qy)
    if twin.kinematic_l:
        energy = field.omega if energy_mev is None else energy_mev[:, None]
        qz = kinematic_qz(ei_mev, energy, q_in)  # NaN where kinematically forbidden
    else:
        qz = np.zeros_like(q_in)
    allowed = np.isfinite(qz)
    qz = np.where(allowed, qz, 0.0)
    q_vec = np.stack([qx, qy, qz], axis=-1)
    q_norm = np.linalg.norm(q_vec, axis=-1)
    q_hat = q_vec / np.maximum(q_norm, 1e-12)[..., None]
    weight = np.stack([j0(ion, q_norm) for ion in field.group_ions], axis=-1)  # (nq, m, g)
    phase = np.exp(-1j * qz[..., None] * field.group_z)
    amp = np.einsum("qmg,qmga->qma", weight * phase, field.amplitudes) @ twin.amplitude_to_lab.T
    intensity = s_perp(amp, q_hat, field.n_sites)
    valid = allowed & (field.omega > ZERO_MODE_MEV)
    return np.where(valid, intensity, 0.0)


def sub_cell_spread(omega: np.ndarray, n_fine: int) -> np.ndarray:
    """Standard deviation of each mode energy over its sub-pixel cell, meV, shape of ``omega``.

    Adaptive broadening (as in Euphonic's density of states): with the mode energy linear across a
    cell of one fine step, its values there are spread with variance (d_h^2 + d_k^2) / 12, where
    d_h, d_k are the energy differences between neighbouring fine points. Adding this to the
    resolution variance integrates sharp dispersions over the pixel area without more samples.
    """
    grid = omega.reshape(n_fine, n_fine, -1)
    d_h, d_k = np.gradient(grid, axis=(0, 1))
    return np.sqrt((d_h**2 + d_k**2) / 12.0).reshape(omega.shape)


def _binned(omega, intensity, edges) -> np.ndarray:
    """Sharp binning: (nq, n_modes) -> (nq, n_bins), weight per meV."""
    idx = np.searchsorted(edges, omega, side="right") - 1
    out = np.zeros((omega.shape[0], len(edges) - 1))
    inside = (idx >= 0) & (idx < len(edges) - 1)
    rows = np.broadcast_to(np.arange(omega.shape[0])[:, None], omega.shape)
    np.add.at(out, (rows[inside], idx[inside]), intensity[inside])
    return out / np.diff(edges)


def _point_density(field: ModeField, twin: Twin, ei: float, edges, sigma: float) -> np.ndarray:
    """S(Q, E_c) per meV at each bin centre E_c: (nq,) field -> (nq, n_bins).

    Each mode is a normalised Gaussian of standard deviation ``sigma`` (meV); L follows the
    kinematics at E_c (``mode_intensities``).
    """
    out = np.zeros((len(field.omega), len(edges) - 1))
    for b, e_c in enumerate(0.5 * (edges[:-1] + edges[1:])):
        inten = mode_intensities(field, twin, ei, np.full(len(field.omega), e_c))
        shape = np.exp(-0.5 * ((e_c - field.omega) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
        out[:, b] = np.sum(inten * shape, axis=1)
    return out


def _broadened(omega, intensity, edges, sigma) -> np.ndarray:
    """Gaussian-broadened modes integrated over each bin: (nq, n_modes) -> (nq, n_bins), per meV."""
    cdf = ndtr((edges[None, None, :] - omega[..., None]) / sigma[..., None])
    weights = np.diff(cdf, axis=-1) / np.diff(edges)
    return np.einsum("qm,qmb->qb", intensity, weights)


class SpectrumCalculator:
    """Computes (unconvolved, convolved) spectrum pairs of one model in one layout."""

    def __init__(self, model: ModelSpec, settings: SpectrumSettings, uncovered=None):
        self.model, self.settings = model, settings
        layout = settings.layout
        self.blocks = _energy_blocks(layout)
        self.twins = twins(model, settings.convention)
        width = layout.pixel_width
        step = width / settings.oversample
        sig_max = max(max(q_resolution_sigma_rlu(ei)) for ei, _, _ in self.blocks)
        margin = int(np.ceil(3.0 * sig_max / step)) if settings.q_resolution else 0
        self.grid = FineGrid(layout.hk_centres(), settings.oversample, margin)
        pts = self.grid.points
        h, k = np.meshgrid(pts, pts, indexing="ij")  # rows H, columns K
        a, b = model.lattice_ab
        self.q_lab = np.stack([2 * np.pi * h.ravel() / a, 2 * np.pi * k.ravel() / b], axis=1)
        self._quadrant, self._from_quadrant = _quadrant_index(pts)
        self.uncovered = uncovered

    @functools.cached_property
    def _sigma_tables(self) -> dict[tuple[float, float], tuple[np.ndarray, np.ndarray]]:
        """Energy-resolution tables per (Ei, chopper Hz), built on first use: the convolved
        spectrum needs them, the unconvolved one alone does not (PyChop costs about 0.15 s per
        incident energy)."""
        factor = self.settings.energy_width_factor
        return {(ei, hz): _sigma_table(ei, hz, factor) for ei, hz, _ in self.blocks}

    def fields(self, system: SpinSystem) -> list[ModeField]:
        """Spin waves of each twin at the fine-grid points with H, K >= 0 (``_quadrant``).

        Every model of the project gives spectra symmetric under H -> -H and under K -> -K
        (the collinear order and the twin average; tests/test_spectra.py checks each model and
        convention on random draws), and the fine grid is symmetric about 0. So modes,
        intensities and the broadened spectrum are computed in one quadrant, a quarter of the
        grid, and every other point takes the values of its mirror image (|H|, |K|)
        (``_from_quadrant``).
        """
        device = self.settings.device
        quadrant = self.q_lab[self._quadrant]
        return [mode_field(system, twin, quadrant, device) for twin in self.twins]

    def check_stable(self, params) -> None:
        """Raise UnstableStructureError exactly where ``pair(params)`` would, at a fraction of its
        cost: the same Cholesky test at the same wavevectors (the fine grid's quadrant, in
        ``CHUNK``-sized batches, twin by twin), without the eigendecompositions.
        """
        form = quadratic_form(self.model.build(self.model.check_params(params)))
        quadrant = self.q_lab[self._quadrant]
        for twin in self.twins:
            k_crys = crystal_wavevectors(twin, quadrant)
            for start in range(0, len(k_crys), CHUNK):
                check_stable(hamiltonian(form, k_crys[start : start + CHUNK]), self.settings.device)

    def pair(self, params) -> tuple[np.ndarray, np.ndarray]:
        """(unconvolved, convolved), each float32 of the layout's shape, NaN where uncovered.

        Raises :class:`~exp2simgan_core.physics.lswt.UnstableStructureError` for unstable draws.
        """
        system = self.model.build(self.model.check_params(params))
        tables = self._sigma_tables  # before the spin waves: a bad chopper setting fails first
        fields = self.fields(system)
        nf = len(self.grid.points)
        # pixel centres (rows H, columns K) as points of the quadrant
        at_centres = self._from_quadrant[self._centre_points]
        centre_fields = [f.subset(at_centres) for f in fields]
        spreads = [
            sub_cell_spread(f.omega[self._from_quadrant], nf)[self._quadrant] for f in fields
        ]
        unconv, conv = [], []
        for ei, hz, edges in self.blocks:
            smooth = np.zeros((len(self._quadrant), len(edges) - 1))
            table = tables[(ei, hz)]
            at_centre = []
            for field, twin, spread in zip(fields, self.twins, spreads, strict=True):
                inten = twin.weight * mode_intensities(field, twin, ei)
                at_centre.append(inten[at_centres])
                sigma = np.hypot(np.interp(field.omega, *table), spread)
                smooth += _broadened(field.omega, inten, edges, sigma)
            sharp = self._sharp(centre_fields, at_centre, ei, edges)
            unconv.append(sharp.reshape(len(self.grid.centres), len(self.grid.centres), -1))
            conv.append(self._resolve_q(smooth[self._from_quadrant].reshape(nf, nf, -1), ei))
        return self._finish(unconv), self._finish(conv)

    def unconvolved(self, params) -> np.ndarray:
        """``pair(params)[0]`` alone, from spin waves at the pixel centres only (no fine grid).

        Float32 of the layout's shape, NaN where uncovered. Stability is checked at the pixel
        centres' wavevectors only: a draw that ``pair`` rejects for an instability between
        centres passes here (training draws go through ``pair``). Raises
        :class:`~exp2simgan_core.physics.lswt.UnstableStructureError` for an instability there.
        """
        system = self.model.build(self.model.check_params(params))
        quadrant, from_quadrant = _quadrant_index(self.grid.centres)  # as ``fields`` does
        q_centres = self.q_lab[self._centre_points[quadrant]]
        device = self.settings.device
        fields = [mode_field(system, twin, q_centres, device) for twin in self.twins]
        n = len(self.grid.centres)
        sharp = []
        for ei, _, edges in self.blocks:
            inten = [
                t.weight * mode_intensities(f, t, ei)
                for f, t in zip(fields, self.twins, strict=True)
            ]
            sharp.append(self._sharp(fields, inten, ei, edges)[from_quadrant].reshape(n, n, -1))
        return self._finish(sharp)

    @property
    def _centre_points(self) -> np.ndarray:
        """Indices into the fine grid's points (rows H, columns K) of the pixel centres."""
        centre, nf = self.grid.centre_index, len(self.grid.points)
        return (centre[:, None] * nf + centre[None, :]).ravel()

    def _sharp(self, fields, intensities, ei: float, edges) -> np.ndarray:
        """The unconvolved spectrum of one Ei, (n_points, n_bins), from the twins' spin waves at
        pixel centres and their weighted intensities there."""
        sharp = np.zeros((len(fields[0].omega), len(edges) - 1))
        for field, inten, twin in zip(fields, intensities, self.twins, strict=True):
            sharp += self._unconvolved(field, inten, twin, ei, edges)
        return sharp

    def _unconvolved(self, field, intensity, twin, ei, edges) -> np.ndarray:
        """One twin's unconvolved spectrum per meV at the pixel centres, (n_centres, n_bins)."""
        if self.settings.unconvolved == "bin_integrated":
            return _binned(field.omega, intensity, edges)
        sigma = self.settings.intrinsic_fwhm_mev / FWHM_PER_SIGMA
        return twin.weight * _point_density(field, twin, ei, edges, sigma)

    def _resolve_q(self, fine: np.ndarray, ei: float) -> np.ndarray:
        if self.settings.q_resolution:
            sig_h, sig_k = q_resolution_sigma_rlu(ei)
            step = self.grid.step
            fine = gaussian_filter(fine, sigma=(sig_h / step, sig_k / step, 0), mode="nearest")
        return self.grid.block_average(fine)

    def _finish(self, blocks: list[np.ndarray]) -> np.ndarray:
        """Per-Ei (n_pix, n_pix, n_bins) blocks -> layout array, masked."""
        layout = self.settings.layout
        if isinstance(layout, Layout3D):
            out = blocks[0]
        else:
            out = layout.assemble(np.stack(blocks).transpose(0, 3, 1, 2))
        out = out.astype(np.float32)
        if self.uncovered is not None:
            out[self.uncovered] = np.nan
        return out


def _quadrant_index(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat (H, K) grid indices of the points with H, K >= 0, and for every point of the grid the
    position of its mirror image (|H|, |K|) among them. ``points`` must be symmetric about 0."""
    n = len(points)
    if not np.allclose(points, -points[::-1], rtol=0.0, atol=1e-12):
        raise ValueError("the fine grid must be symmetric about 0")
    first = n // 2  # first point >= 0
    mirror = np.maximum(np.arange(n), n - 1 - np.arange(n)) - first  # along one axis
    half = np.arange(first, n)
    quadrant = (half[:, None] * n + half[None, :]).ravel()
    from_quadrant = (mirror[:, None] * len(half) + mirror[None, :]).ravel()
    return quadrant, from_quadrant


def _energy_blocks(layout) -> list[tuple[float, float, np.ndarray]]:
    """(Ei, chopper frequency, bin edges) for each incident energy of the layout."""
    if isinstance(layout, Layout3D):
        return [(float(layout.ei_mev), float(layout.chopper_hz), layout.ebin_edges())]
    return [
        (float(ei), float(hz), layout.ebin_edges(ei))
        for ei, hz in zip(layout.ei_mev, layout.chopper_hz, strict=True)
    ]


def _sigma_table(ei: float, hz: float, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Energy-resolution sigma (meV) tabulated on 0..0.98 Ei for fast interpolation."""
    energies = np.linspace(0.0, 0.98 * ei, 99)
    return energies, EnergyResolution(ei, hz, factor).sigma_mev(energies)
