"""Spin waves per wavevector: the twins, the diagonalisation and each mode's S_perp intensity.

Intensity unit: S_perp per magnetic site (times |<j0>|^2); energies in meV, in-plane lab Q in
1/Angstrom, layer heights z in Angstrom.

* L follows the MAPS kinematics at the mode energy (c along the beam), so L moves inside an
  energy bin. The bilayers are magnetically isolated, so one diagonalisation per in-plane point
  serves every L: the L dependence is the phase exp(-i Q_z z_i) per site (see :mod:`lswt`).
* Conventions: ``physical`` (default) averages two domains rotated by a proper 90 degrees about c,
  with kinematic L. ``horace`` reproduces the authors' MATLAB pipeline: twin 2 evaluated at
  (K, H, 0) with the correlations rotated by rotc = [0 1 0; 1 0 0; 0 0 0] (every c component
  dropped), and L = 0.

The spectra built from these modes are in :mod:`spectra`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .arrays import Arrays, NumpyArrays, arrays_for
from .formfactor import j0
from .instrument import kinematic_qz
from .lswt import (
    SpinSystem,
    diagonalise,
    hamiltonian,
    quadratic_form,
    s_perp,
    spectral_amplitudes,
)
from .models import ModelSpec

ZERO_MODE_MEV = 0.01  # modes below this are Goldstone/Bragg points: their weight is elastic
CHUNK = 2048  # wavevectors per batched diagonalisation
_ROT90 = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
_ROTC_HORACE = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


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
class ModeField:
    """Spin waves of one twin on the fine grid, amplitudes summed per (layer z, ion) group.

    ``omega``, ``amplitudes`` and ``q_lab`` live in ``arrays`` (numpy, or torch on a device).
    """

    omega: np.ndarray  # (nf*nf, n_modes) meV
    amplitudes: np.ndarray  # (nf*nf, n_modes, n_groups, 3) complex64, crystal frame
    group_z: np.ndarray  # (n_groups,) Angstrom
    group_ions: tuple[str, ...]
    q_lab: np.ndarray  # (nf*nf, 2) in-plane lab Q, 1/Angstrom
    n_sites: int
    arrays: Arrays = NumpyArrays()

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
    system: SpinSystem,
    twin: Twin,
    q_lab: np.ndarray,
    device: str = "auto",
    backend: str | None = None,
) -> ModeField:
    """Diagonalise at the crystal wavevectors of ``twin`` (k_z = 0) for lab in-plane ``q_lab``.

    The field stays where it was computed: numpy on the CPU, torch on a CUDA device (``backend``
    as in :func:`~exp2simgan_core.physics.arrays.arrays_for`).
    """
    if not system.z_isolated():
        raise ValueError("the L shortcut needs bonds that stay inside one cell along c")
    arrays = arrays_for(device, backend)
    site_keys = [
        (round(z, 6), ion) for z, ion in zip(system.positions[:, 2], system.ions, strict=True)
    ]
    keys = sorted(set(site_keys))
    member = arrays.asarray([[site == key for site in site_keys] for key in keys], "float64")
    form = quadratic_form(system)
    k_crys = crystal_wavevectors(twin, q_lab)
    omegas, amps = [], []
    for start in range(0, len(q_lab), CHUNK):
        k = arrays.asarray(k_crys[start : start + CHUNK])
        omega, t = diagonalise(hamiltonian(form, k), arrays)
        amp = spectral_amplitudes(form, t)  # (nq, modes, sites, 3)
        omegas.append(omega)
        amps.append(arrays.astype(arrays.einsum("qmsa,gs->qmga", amp, member), "complex64"))
    xp = arrays.xp
    return ModeField(
        omega=xp.concatenate(omegas),
        amplitudes=xp.concatenate(amps),
        group_z=np.array([k[0] for k in keys]),
        group_ions=tuple(k[1] for k in keys),
        q_lab=arrays.asarray(q_lab),
        n_sites=system.n_sites,
        arrays=arrays,
    )


def mode_intensities(
    field: ModeField, twin: Twin, ei_mev: float, energy_mev: np.ndarray | None = None
) -> np.ndarray:
    """S_perp per site of every mode at its kinematic Q for this Ei, shape (nq, n_modes), in the
    field's arrays.

    L follows the kinematics at the mode energy, or at ``energy_mev`` (nq,) when given.
    """
    arrays = field.arrays
    xp = arrays.xp
    qx = xp.broadcast_to(field.q_lab[:, :1], field.omega.shape)
    qy = xp.broadcast_to(field.q_lab[:, 1:], field.omega.shape)
    q_in = xp.hypot(qx, qy)
    if twin.kinematic_l:
        energy = field.omega if energy_mev is None else arrays.asarray(energy_mev)[:, None]
        qz = kinematic_qz(ei_mev, energy, q_in)  # NaN where kinematically forbidden
    else:
        qz = xp.zeros_like(q_in)
    allowed = xp.isfinite(qz)
    qz = xp.where(allowed, qz, 0.0)
    q_vec = xp.stack([qx, qy, qz], axis=-1)
    q_norm = xp.linalg.norm(q_vec, axis=-1)
    q_hat = q_vec / q_norm.clip(min=1e-12)[..., None]
    weight = xp.stack([j0(ion, q_norm) for ion in field.group_ions], axis=-1)  # (nq, m, g)
    phase = xp.exp(-1j * qz[..., None] * arrays.asarray(field.group_z))
    to_lab = arrays.asarray(twin.amplitude_to_lab.T, "complex128")
    amp = arrays.einsum("qmg,qmga->qma", weight * phase, field.amplitudes) @ to_lab
    intensity = s_perp(amp, q_hat, field.n_sites)
    valid = allowed & (field.omega > ZERO_MODE_MEV)
    return xp.where(valid, intensity, 0.0)
