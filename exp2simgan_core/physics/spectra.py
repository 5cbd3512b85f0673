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

The spin waves per wavevector (the twins, the diagonalisation, each mode's intensity) are in
:mod:`modes`; this module bins, broadens and lays them out.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from ..util import DEVICES
from .arrays import arrays_for, arrays_of
from .instrument import (
    TOBYFIT_ENERGY_WIDTH_FACTOR,
    EnergyResolution,
    q_resolution_sigma_rlu,
)
from .layout import Layout2D, Layout3D
from .lswt import SpinSystem, check_stable, hamiltonian, quadratic_form
from .models import ModelSpec
from .modes import (
    CHUNK,
    ModeField,
    Twin,
    crystal_wavevectors,
    mode_field,
    mode_intensities,
    twins,
)

CONVENTIONS = ("physical", "horace")
UNCONVOLVED = ("bin_centre", "bin_integrated")  # definitions of the unconvolved spectrum
PAPER_INTRINSIC_FWHM_MEV = 0.1  # the authors' model_eval.m: 'resfun', 'gauss' with 0.1 meV
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


@dataclass(frozen=True)
class SpectrumSettings:
    """How spectra are computed (the physics is fixed by the model)."""

    layout: Layout2D | Layout3D = Layout2D()
    convention: str = "physical"  # physical | horace
    oversample: int = 3  # odd number of sub-pixel samples per axis in the convolution
    energy_width_factor: float = TOBYFIT_ENERGY_WIDTH_FACTOR  # x PyChop sigma
    q_resolution: bool = True  # apply the in-plane Gaussian Q resolution
    device: str = "auto"  # where spectra are computed: auto (CUDA if present) | cpu | cuda
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


def sub_cell_spread(omega: np.ndarray, n_fine: int) -> np.ndarray:
    """Standard deviation of each mode energy over its sub-pixel cell, meV, shape of ``omega``.

    Adaptive broadening (as in Euphonic's density of states): with the mode energy linear across a
    cell of one fine step, its values there are spread with variance (d_h^2 + d_k^2) / 12, where
    d_h, d_k are the energy differences between neighbouring fine points. Adding this to the
    resolution variance integrates sharp dispersions over the pixel area without more samples.
    """
    xp = arrays_of(omega).xp
    grid = omega.reshape(n_fine, n_fine, -1)
    d_h, d_k = xp.gradient(grid, axis=(0, 1))
    return xp.sqrt((d_h**2 + d_k**2) / 12.0).reshape(omega.shape)


def _binned(omega, intensity, edges) -> np.ndarray:
    """Sharp binning: (nq, n_modes) -> (nq, n_bins), weight per meV, in the arrays of omega."""
    arrays = arrays_of(omega)
    edges = arrays.asarray(edges)
    idx = arrays.xp.searchsorted(edges, omega, side="right") - 1
    return arrays.bin_sum(idx, intensity, len(edges) - 1) / arrays.xp.diff(edges)


def _point_density(field: ModeField, twin: Twin, ei: float, edges, sigma: float) -> np.ndarray:
    """S(Q, E_c) per meV at each bin centre E_c: (nq,) field -> (nq, n_bins).

    Each mode is a normalised Gaussian of standard deviation ``sigma`` (meV); L follows the
    kinematics at E_c (``mode_intensities``). All bins in one call: the field repeated once per
    bin (few calls matter on a GPU, where each array operation costs a kernel launch).
    """
    nq, centres = len(field.omega), 0.5 * (edges[:-1] + edges[1:])
    tiled = field.subset(np.tile(np.arange(nq), len(centres)))  # row b * nq + q
    e_c = np.repeat(centres, nq)
    inten = mode_intensities(tiled, twin, ei, e_c)
    e_c = tiled.arrays.asarray(e_c)[:, None]
    xp = tiled.arrays.xp
    shape = xp.exp(-0.5 * ((e_c - tiled.omega) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
    return xp.sum(inten * shape, axis=1).reshape(len(centres), nq).T


def _broadened(omega, intensity, edges, sigma) -> np.ndarray:
    """Gaussian-broadened modes integrated over each bin: (nq, n_modes) -> (nq, n_bins), per meV,
    in the arrays of omega."""
    arrays = arrays_of(omega)
    edges = arrays.asarray(edges)
    cdf = arrays.ndtr((edges[None, None, :] - omega[..., None]) / sigma[..., None])
    weights = arrays.xp.diff(cdf, axis=-1) / arrays.xp.diff(edges)
    return arrays.einsum("qm,qmb->qb", intensity, weights)


class SpectrumCalculator:
    """Computes (unconvolved, convolved) spectrum pairs of one model in one layout."""

    def __init__(
        self,
        model: ModelSpec,
        settings: SpectrumSettings,
        uncovered=None,
        *,
        backend: str | None = None,
    ):
        """``backend`` (None, "numpy" or "torch") picks the arrays of the spin waves and spectra,
        as :func:`~exp2simgan_core.physics.arrays.arrays_for` does with ``settings.device``:
        None means numpy on the CPU and torch on CUDA. The results are numpy arrays either way.
        """
        self.model, self.settings = model, settings
        self.backend = backend
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
        quadrant = self.q_lab[self._quadrant]
        return [self._mode_field(system, twin, quadrant) for twin in self.twins]

    def _mode_field(self, system: SpinSystem, twin: Twin, q_lab: np.ndarray) -> ModeField:
        return mode_field(system, twin, q_lab, self.settings.device, self.backend)

    def check_stable(self, params) -> None:
        """Raise UnstableStructureError exactly where ``pair(params)`` would, at a fraction of its
        cost: the same Cholesky test at the same wavevectors (the fine grid's quadrant, in
        ``CHUNK``-sized batches, twin by twin), without the eigendecompositions.
        """
        form = quadratic_form(self.model.build(self.model.check_params(params)))
        quadrant = self.q_lab[self._quadrant]
        arrays = arrays_for(self.settings.device, self.backend)
        for twin in self.twins:
            k_crys = crystal_wavevectors(twin, quadrant)
            for start in range(0, len(k_crys), CHUNK):
                h = hamiltonian(form, arrays.asarray(k_crys[start : start + CHUNK]))
                check_stable(h)

    def pair(self, params) -> tuple[np.ndarray, np.ndarray]:
        """(unconvolved, convolved), each float32 of the layout's shape, NaN where uncovered.

        Raises :class:`~exp2simgan_core.physics.lswt.UnstableStructureError` for unstable draws.
        """
        system = self.model.build(self.model.check_params(params))
        tables = self._sigma_tables  # before the spin waves: a bad chopper setting fails first
        fields = self.fields(system)
        arrays, xp = fields[0].arrays, fields[0].arrays.xp
        nf = len(self.grid.points)
        # the quadrant's pixel centres, as points of the fine grid's quadrant
        at_centres = self._from_quadrant[self._centres_in_quadrant[0]]
        centre_fields = [f.subset(at_centres) for f in fields]
        spreads = [
            sub_cell_spread(f.omega[self._from_quadrant], nf)[self._quadrant] for f in fields
        ]
        unconv, conv = [], []
        for ei, hz, edges in self.blocks:
            smooth = arrays.zeros((len(self._quadrant), len(edges) - 1))
            table = tables[(ei, hz)]
            at_centre = []
            for field, twin, spread in zip(fields, self.twins, spreads, strict=True):
                inten = twin.weight * mode_intensities(field, twin, ei)
                at_centre.append(inten[at_centres])
                sigma = xp.hypot(arrays.interp(field.omega, *table), spread)
                smooth += _broadened(field.omega, inten, edges, sigma)
            unconv.append(self._mirrored(self._sharp(centre_fields, at_centre, ei, edges)))
            smooth = arrays.to_numpy(smooth[self._from_quadrant])
            conv.append(self._resolve_q(smooth.reshape(nf, nf, -1), ei))
        return self._finish(unconv), self._finish(conv)

    def unconvolved(self, params) -> np.ndarray:
        """``pair(params)[0]`` alone, from spin waves at the pixel centres only (no fine grid).

        Float32 of the layout's shape, NaN where uncovered. Stability is checked at the pixel
        centres' wavevectors only: a draw that ``pair`` rejects for an instability between
        centres passes here (training draws go through ``pair``). Raises
        :class:`~exp2simgan_core.physics.lswt.UnstableStructureError` for an instability there.
        """
        system = self.model.build(self.model.check_params(params))
        q_centres = self.q_lab[self._centres_in_quadrant[0]]
        fields = [self._mode_field(system, twin, q_centres) for twin in self.twins]
        sharp = []
        for ei, _, edges in self.blocks:
            inten = [
                t.weight * mode_intensities(f, t, ei)
                for f, t in zip(fields, self.twins, strict=True)
            ]
            sharp.append(self._mirrored(self._sharp(fields, inten, ei, edges)))
        return self._finish(sharp)

    @functools.cached_property
    def _centres_in_quadrant(self) -> tuple[np.ndarray, np.ndarray]:
        """The pixel centres with H, K >= 0 as indices into the fine grid's points, and for every
        pixel centre (rows H, columns K) the position of its mirror image among them: the
        unconvolved spectrum is computed in the quadrant only, as the convolved one is
        (``fields``)."""
        quadrant, from_quadrant = _quadrant_index(self.grid.centres)
        centre, nf = self.grid.centre_index, len(self.grid.points)
        return (centre[:, None] * nf + centre[None, :]).ravel()[quadrant], from_quadrant

    def _mirrored(self, sharp) -> np.ndarray:
        """(n_quadrant_centres, n_bins) in any arrays -> numpy (n_pix, n_pix, n_bins)."""
        n = len(self.grid.centres)
        block = arrays_of(sharp).to_numpy(sharp)
        return block[self._centres_in_quadrant[1]].reshape(n, n, -1)

    def _sharp(self, fields, intensities, ei: float, edges) -> np.ndarray:
        """The unconvolved spectrum of one Ei, (n_points, n_bins), from the twins' spin waves at
        pixel centres and their weighted intensities there, in the fields' arrays."""
        sharp = fields[0].arrays.zeros((len(fields[0].omega), len(edges) - 1))
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
