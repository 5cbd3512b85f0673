"""Linear spin-wave theory (LSWT) for collinear magnets, vectorised over many wavevectors.

Conventions
-----------
* H = sum over bonds (each counted once) S_i^T J_b S_j + sum_i S_i^T A_i S_i, energies in meV,
  J > 0 antiferromagnetic (SpinW's convention). J_b and A_i are 3 x 3 matrices in a Cartesian frame
  x || a, y || b, z || c (Angstrom).
* Holstein-Primakoff bosons in the local frame of each moment n_i:
  S_i = sqrt(S_i / 2) (u_i^* a_i + u_i a_i^dagger) + n_i (S_i - a_i^dagger a_i), u_i = e_x + i e_y.
* Fourier phases use the real bond vector (the "position gauge"), so structure-factor phases are
  already inside the eigenvectors. With X_k = (a_k, a_-k^dagger),
  H_2 = 1/2 sum_k X_k^dagger h(k) X_k.
* Colpa's method: h = K^dagger K (Cholesky); a failed Cholesky means the assumed ground state is not
  stable for these exchanges and raises :class:`UnstableStructureError` (never silently patched).
  A shift of ``GOLDSTONE_SHIFT_MEV`` on the diagonal lets exact zero modes (Goldstone modes at
  magnetic zone centres) through; any real instability is orders of magnitude larger.
* Output amplitudes: for mode m and site i, the 3-vector
  a_mi = sqrt(S_i / 2) (u_i^* T_im + u_i T_(i+n)m); the neutron cross-section per magnetic site is
  S_perp = (|A|^2 - |Q_hat . A|^2) / n_sites with A = sum_i f_i(|Q|) exp(-i Q_z z_i) a_mi.

Arrays: h(k) and everything after it live where the wavevectors do, numpy on the CPU or torch
on a device (:mod:`~exp2simgan_core.physics.arrays`); :func:`colpa` returns numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arrays import Arrays, arrays_for, arrays_of

GOLDSTONE_SHIFT_MEV = 1e-9


class UnstableStructureError(ValueError):
    """The assumed magnetic order is not a local energy minimum for the given exchanges."""


@dataclass(frozen=True)
class SpinSystem:
    """A collinear magnetic structure with its bonds, all vectors Cartesian in Angstrom.

    Attributes
    ----------
    positions : (n, 3) site positions.
    spins : (n,) spin lengths S.
    moments : (n, 3) unit vectors of the ordered moments.
    ions : n form-factor labels (see :mod:`formfactor`).
    bond_i, bond_j : (nb,) site indices of each bond (each bond listed once).
    bond_vectors : (nb, 3) r_j + R - r_i.
    bond_matrices : (nb, 3, 3) exchange matrices J_b (meV).
    anisotropy : (n, 3, 3) single-ion matrices A_i (meV).
    """

    positions: np.ndarray
    spins: np.ndarray
    moments: np.ndarray
    ions: tuple[str, ...]
    bond_i: np.ndarray
    bond_j: np.ndarray
    bond_vectors: np.ndarray
    bond_matrices: np.ndarray
    anisotropy: np.ndarray

    @property
    def n_sites(self) -> int:
        return len(self.spins)

    def z_isolated(self) -> bool:
        """True if every bond stays inside one cell along z (no bond crosses to another cell).

        Then the mode energies do not depend on k_z and the k_z dependence of the eigenvectors is
        the phase exp(-i k_z z_i) per site: see :func:`spectral_amplitudes`.
        """
        dz = self.positions[self.bond_j, 2] - self.positions[self.bond_i, 2]
        return bool(np.allclose(dz, self.bond_vectors[:, 2], atol=1e-9))


def _local_frames(moments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """u_i = e_x + i e_y of a right-handed frame with e_z = n_i, and n_i; shapes (n, 3)."""
    n = moments / np.linalg.norm(moments, axis=1, keepdims=True)
    helper = np.where(np.abs(n[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    ex = np.cross(helper, n)
    ex /= np.linalg.norm(ex, axis=1, keepdims=True)
    ey = np.cross(n, ex)
    return ex + 1j * ey, n


@dataclass(frozen=True)
class Scatter:
    """Bond terms summed into the columns of a flat block: column ``columns[c]`` receives the sum
    of the bonds b with ``matrix[b, c] == 1``, in bond order (one small matrix product)."""

    columns: np.ndarray  # (n_used,) the block's columns that some bond reaches
    matrix: np.ndarray  # (nb, n_used) complex one-hot
    size: int  # columns of the whole block

    @classmethod
    def of(cls, position: np.ndarray, size: int) -> Scatter:
        """The scatter of bonds to flat ``position`` (nb,) in a block of ``size`` columns."""
        columns = np.unique(position)
        return cls(columns, (position[:, None] == columns).astype(complex), size)

    def apply(self, x, arrays: Arrays):
        """(nq, nb) bond terms -> (nq, size), zero where no bond reaches, in ``x``'s arrays."""
        out = arrays.zeros((x.shape[0], self.size), "complex128")
        out[:, arrays.asarray(self.columns)] = x @ arrays.asarray(self.matrix)
        return out


@dataclass(frozen=True)
class QuadraticForm:
    """k-independent pieces of h(k), precomputed once per set of exchanges."""

    n: int
    bonds_to: Scatter  # bond b -> its position (i, j) in a flat n x n block
    bonds_to_t: Scatter  # bond b -> the transposed position (j, i)
    vectors: np.ndarray  # (nb, 3) bond vectors, Angstrom
    c_normal: np.ndarray  # (nb,) coefficient of a_i^dagger a_j exp(i k.d)
    c_anomalous: np.ndarray  # (nb,) coefficient of a_i^dagger a_j^dagger exp(i k.d)
    diag_normal: np.ndarray  # (n,) k-independent diagonal of the normal block
    diag_anomalous: np.ndarray  # (n,) k-independent diagonal of the anomalous block
    u: np.ndarray  # (n, 3)
    spins: np.ndarray  # (n,)


def quadratic_form(system: SpinSystem) -> QuadraticForm:
    """Collect the bosonic quadratic form of ``system`` (see the module docstring)."""
    n = system.n_sites
    u, nvec = _local_frames(system.moments)
    s = system.spins.astype(float)
    i, j, jm = system.bond_i, system.bond_j, system.bond_matrices
    root = np.sqrt(s[i] * s[j]) / 2.0
    c_normal = root * np.einsum("ba,bac,bc->b", u[i], jm, u[j].conj())
    c_anom = root * np.einsum("ba,bac,bc->b", u[i], jm, u[j])
    longitudinal = np.einsum("ba,bac,bc->b", nvec[i], jm, nvec[j])
    diag_normal = np.zeros(n, dtype=complex)
    np.add.at(diag_normal, i, -s[j] * longitudinal)
    np.add.at(diag_normal, j, -s[i] * longitudinal)
    aniso = system.anisotropy
    diag_normal += s * np.einsum("na,nac,nc->n", u, aniso, u.conj())
    diag_normal -= 2.0 * s * np.einsum("na,nac,nc->n", nvec, aniso, nvec)
    diag_anom = s * np.einsum("na,nac,nc->n", u, aniso, u)
    return QuadraticForm(
        n=n,
        bonds_to=Scatter.of(i * n + j, n * n),
        bonds_to_t=Scatter.of(j * n + i, n * n),
        vectors=system.bond_vectors,
        c_normal=c_normal,
        c_anomalous=c_anom,
        diag_normal=diag_normal,
        diag_anomalous=diag_anom,
        u=u,
        spins=s,
    )


def hamiltonian(form: QuadraticForm, k: np.ndarray) -> np.ndarray:
    """h(k), shape (nq, 2n, 2n), at wavevectors ``k`` (nq, 3), Cartesian, 1/Angstrom; in the
    arrays of ``k`` (numpy, or torch on its device)."""
    n = form.n
    arrays = arrays_of(k)
    xp, to = arrays.xp, arrays.asarray

    def onto(x, x_t):
        """Bond terms x (nq, nb) at their positions (i, j) plus x_t at (j, i), (nq, n*n)."""
        return form.bonds_to.apply(x, arrays) + form.bonds_to_t.apply(x_t, arrays)

    c_normal, c_anomalous = to(form.c_normal), to(form.c_anomalous)
    phase = xp.exp(1j * (k @ to(form.vectors).T))  # (nq, nb)
    # normal block P(k): bond term and its Hermitian conjugate
    p = onto(phase * c_normal, phase.conj() * c_normal.conj())
    # anomalous block Q(k) = Q'(k) + Q'(-k)^T, Q'_ij = c exp(i k.d)
    q = onto(phase * c_anomalous, phase.conj() * c_anomalous)
    p = p.reshape(-1, n, n) + to(np.diag(form.diag_normal))
    q = q.reshape(-1, n, n) + to(np.diag(form.diag_anomalous))
    # P(-k)^T: conjugating the bond phases of P(k) and transposing
    p_minus_t = onto(phase * c_normal.conj(), phase.conj() * c_normal)
    p_minus_t = p_minus_t.reshape(-1, n, n) + to(np.diag(form.diag_normal))
    top = xp.concatenate([p, q], axis=2)
    bottom = xp.concatenate([q.conj().swapaxes(1, 2), p_minus_t], axis=2)
    return xp.concatenate([top, bottom], axis=1)


def _cholesky(h: np.ndarray, arrays: Arrays):
    """Lower Cholesky factor of h + GOLDSTONE_SHIFT_MEV (K = L^dagger), in ``arrays``;
    UnstableStructureError if h is not positive definite at some wavevector."""
    h = arrays.asarray(h)
    lower, bad = arrays.cholesky(h + GOLDSTONE_SHIFT_MEV * arrays.asarray(np.eye(h.shape[-1])))
    if bad:
        raise UnstableStructureError(
            f"the magnetic ground state is unstable: h(k) is not positive definite at "
            f"{len(bad)} of {len(h)} wavevectors (first index {bad[0]})"
        )
    return lower


def check_stable(h) -> None:
    """Raise UnstableStructureError exactly where ``colpa(h)`` would: its Cholesky test alone,
    in the arrays of ``h`` (numpy, or torch on its device)."""
    _cholesky(h, arrays_of(h))


def colpa(
    h: np.ndarray, device: str = "auto", backend: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Bogoliubov diagonalisation of positive-definite h, shape (nq, 2n, 2n), complex128.

    Batched Cholesky, Hermitian eigendecomposition and triangular solve in double precision:
    numpy's LAPACK when ``device`` resolves to the CPU, torch on a CUDA device (``backend``
    "torch" runs torch on the CPU too).
    Returns (omega, T) as numpy arrays: omega (nq, n) positive mode energies in meV, descending;
    T (nq, 2n, n) the columns of the paraunitary transformation X = T Y that belong to those modes.
    """
    arrays = arrays_for(device, backend)
    return tuple(arrays.to_numpy(a) for a in diagonalise(h, arrays))


def diagonalise(h: np.ndarray, arrays: Arrays):
    """:func:`colpa`'s (omega, T), left in ``arrays`` (on its device)."""
    n = h.shape[-1] // 2
    lower = _cholesky(h, arrays)
    k_mat = lower.conj().swapaxes(-1, -2)
    g = arrays.asarray(np.concatenate([np.ones(n), -np.ones(n)]))
    m = k_mat @ (g[:, None] * lower)  # K g K^dagger
    lam, vec = arrays.eigh(0.5 * (m + m.conj().swapaxes(-1, -2)))  # ascending
    positive = list(range(2 * n - 1, n - 1, -1))  # the n largest, descending
    omega, vec = lam[:, positive], vec[:, :, positive]
    scaled = vec * omega.clip(min=0.0)[:, None, :] ** 0.5
    return omega, arrays.solve_upper(k_mat, scaled)


def spectral_amplitudes(form: QuadraticForm, t) -> np.ndarray:
    """Per-site spin-deviation amplitudes a_mi, shape (nq, n_modes, n_sites, 3), complex, in the
    arrays of ``t`` (numpy or torch)."""
    n = form.n
    arrays = arrays_of(t)
    root = arrays.asarray(np.sqrt(form.spins / 2.0))
    u = arrays.asarray(form.u)
    normal, anomalous = t[:, :n, :], t[:, n:, :]  # (nq, n_sites, n_modes)
    amp = (
        normal[..., None] * u.conj()[None, :, None, :] + anomalous[..., None] * u[None, :, None, :]
    ) * root[None, :, None, None]
    return amp.swapaxes(1, 2)


def s_perp(amplitude: np.ndarray, q_hat: np.ndarray, n_sites: int) -> np.ndarray:
    """Neutron cross-section per site (|A|^2 - |Q_hat.A|^2) / n_sites.

    amplitude: (..., 3) complex summed amplitudes A;
    q_hat: (..., 3) unit vectors, broadcastable to ``amplitude`` (both numpy, or both torch).
    """
    xp = arrays_of(amplitude).xp
    total = xp.sum(xp.abs(amplitude) ** 2, axis=-1)
    along = xp.abs(xp.sum(q_hat * amplitude, axis=-1)) ** 2
    return (total - along) / n_sites


def spin_waves(
    system: SpinSystem, k: np.ndarray, device: str = "auto"
) -> tuple[np.ndarray, np.ndarray]:
    """Mode energies (nq, n) in meV and per-site amplitudes (nq, n, n_sites, 3) at ``k`` (nq, 3)."""
    form = quadratic_form(system)
    omega, t = colpa(hamiltonian(form, np.atleast_2d(k)), device)
    return omega, spectral_amplitudes(form, t)
