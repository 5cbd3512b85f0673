"""LSWT against closed-form results (tolerance 1e-8 unless stated)."""

import numpy as np
import pytest
import torch

from exp2simgan_core.physics.arrays import BACKENDS
from exp2simgan_core.physics.lswt import (
    SpinSystem,
    UnstableStructureError,
    colpa,
    hamiltonian,
    quadratic_form,
    spectral_amplitudes,
    spin_waves,
)
from exp2simgan_core.physics.models import MODELS

RNG = np.random.default_rng(1234)


def chain(j: float, spin: float, a: float = 3.0, moment=(0.0, 0.0, 1.0)) -> SpinSystem:
    """One-site chain along x (a bond to the next cell)."""
    return SpinSystem(
        positions=np.zeros((1, 3)),
        spins=np.array([spin]),
        moments=np.array([moment]),
        ions=("Mn2+",),
        bond_i=np.array([0]),
        bond_j=np.array([0]),
        bond_vectors=np.array([[a, 0.0, 0.0]]),
        bond_matrices=np.array([j * np.eye(3)]),
        anisotropy=np.zeros((1, 3, 3)),
    )


def square_afm(j: float, spin: float, d: float = 0.0, a: float = 4.0) -> SpinSystem:
    """Two-site Neel antiferromagnet on a square lattice, moments along +-z, D (S^z)^2."""
    vectors = np.array([[a, 0, 0], [-a, 0, 0], [0, a, 0], [0, -a, 0]], float)
    aniso = np.zeros((2, 3, 3))
    aniso[:, 2, 2] = d
    return SpinSystem(
        positions=np.array([[0.0, 0, 0], [a, 0, 0]]),
        spins=np.array([spin, spin]),
        moments=np.array([[0.0, 0, 1], [0.0, 0, -1]]),
        ions=("Mn2+", "Mn2+"),
        bond_i=np.zeros(4, int),
        bond_j=np.ones(4, int),
        bond_vectors=vectors,
        bond_matrices=np.array([j * np.eye(3)] * 4),
        anisotropy=aniso,
    )


def random_k(n: int, scale: float = 2.0) -> np.ndarray:
    k = RNG.uniform(-scale, scale, size=(n, 3))
    k[:, 2] = 0.0
    return k


def test_ferromagnetic_chain_dispersion_and_weight():
    j, spin, a = -2.0, 2.5, 3.0
    k = RNG.uniform(0.05, 2.0, size=(200, 3))
    omega, amp = spin_waves(chain(j, spin, a), k)
    np.testing.assert_allclose(
        omega[:, 0], 2 * abs(j) * spin * (1 - np.cos(k[:, 0] * a)), atol=1e-8
    )
    # a ferromagnet has no zero-point fluctuations: the transverse weight is exactly S per site
    np.testing.assert_allclose(np.sum(np.abs(amp) ** 2, axis=(-1, -2)), spin, atol=1e-8)


@pytest.mark.parametrize("d", [0.0, -0.1, -0.5])
def test_square_antiferromagnet_dispersion(d):
    j, spin, a = 1.3, 2.5, 4.0
    k = random_k(300, 1.5)
    omega, _ = spin_waves(square_afm(j, spin, d, a), k)
    gamma = (np.cos(k[:, 0] * a) + np.cos(k[:, 1] * a)) / 2
    expected = 4 * j * spin * np.sqrt((1 + abs(d) / (2 * j)) ** 2 - gamma**2)
    np.testing.assert_allclose(omega, np.repeat(expected[:, None], 2, axis=1), atol=1e-8)


def test_square_antiferromagnet_intensity():
    """Transverse weight summed over modes: S sqrt((1 - gamma) / (1 + gamma)) per site."""
    j, spin, a = 1.0, 2.5, 4.0
    k = random_k(300, 1.5)
    _, amp = spin_waves(square_afm(j, spin, 0.0, a), k)
    total = amp.sum(axis=2)  # (nq, modes, 3); phases are inside the eigenvectors
    transverse = np.sum(np.abs(total[..., :2]) ** 2, axis=(1, 2)) / 2
    gamma = (np.cos(k[:, 0] * a) + np.cos(k[:, 1] * a)) / 2
    np.testing.assert_allclose(transverse, spin * np.sqrt((1 - gamma) / (1 + gamma)), rtol=1e-8)
    assert np.allclose(total[..., 2], 0.0, atol=1e-12)  # no longitudinal weight in LSWT


def test_ferromagnet_sum_rule_multisite():
    """Random ferromagnetic couplings in a 16-site cell: weight S per site at every k."""
    base = MODELS["goodenough"].build(np.array([-5.0, 0.0, 0.0, 0.0, 0.0, 0.0]))
    n_b = len(base.bond_i)
    system = SpinSystem(
        positions=base.positions,
        spins=base.spins,
        moments=np.tile([0.0, 1.0, 0.0], (16, 1)),
        ions=base.ions,
        bond_i=base.bond_i,
        bond_j=base.bond_j,
        bond_vectors=base.bond_vectors,
        bond_matrices=-RNG.uniform(0.5, 3.0, n_b)[:, None, None] * np.eye(3),
        anisotropy=np.zeros((16, 3, 3)),
    )
    _, amp = spin_waves(system, random_k(50, 1.0))
    weight = np.sum(np.abs(amp) ** 2, axis=(1, 2, 3)) / 16
    np.testing.assert_allclose(weight, base.spins[0], atol=1e-8)


def test_unstable_structure_is_reported():
    # antiferromagnetic chain coupling with parallel moments: not a minimum
    with pytest.raises(UnstableStructureError, match="not positive definite"):
        spin_waves(chain(+2.0, 1.0), random_k(10))


def test_l_shortcut_matches_direct_diagonalisation():
    """Bilayers are isolated: energies do not depend on k_z and the intensity follows from the
    per-site phase exp(-i k_z z_i) applied to the k_z = 0 eigenvectors."""
    spec = MODELS["goodenough"]
    system = spec.build(np.array(spec.best_fit))
    assert system.z_isolated()
    k0 = random_k(40, 1.2)
    kz = RNG.uniform(-2.0, 2.0, 40)
    k = k0.copy()
    k[:, 2] = kz
    omega_direct, amp_direct = spin_waves(system, k)
    omega_short, amp_short = spin_waves(system, k0)
    np.testing.assert_allclose(omega_direct, omega_short, atol=1e-8)
    phase = np.exp(-1j * kz[:, None] * system.positions[:, 2][None, :])  # (nq, sites)
    a_direct = amp_direct.sum(axis=2)
    a_short = np.einsum("qs,qmsa->qma", phase, amp_short)
    # compare gauge-invariant sums over (possibly degenerate) modes
    for weight in (np.ones_like(omega_direct), omega_direct):
        w_direct = np.sum(weight[..., None] * np.abs(a_direct) ** 2, axis=1)
        w_short = np.sum(weight[..., None] * np.abs(a_short) ** 2, axis=1)
        np.testing.assert_allclose(w_direct, w_short, rtol=1e-8, atol=1e-10)


def test_device_choice_is_validated():
    with pytest.raises(ValueError, match="device must be one of"):
        spin_waves(chain(-1.0, 1.0), random_k(2), device="tpu")


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize(
    ("device", "backend"),
    [
        pytest.param("cpu", "torch", id="torch-on-cpu"),
        pytest.param("cuda", None, marks=(pytest.mark.gpu, CUDA), id="cuda"),
    ],
)
@pytest.mark.parametrize("model", ["dimer", "goodenough"])
def test_torch_path_matches_numpy(model, device, backend):
    """The CUDA path's code (torch) runs on the CPU too, so it is checked without a GPU."""
    spec = MODELS[model]
    form = quadratic_form(spec.build(np.array(spec.best_fit)))
    h = hamiltonian(form, random_k(64, 1.2))
    (omega_ref, t_ref), (omega, t) = colpa(h, "cpu"), colpa(h, device, backend)
    np.testing.assert_allclose(omega, omega_ref, atol=1e-8)
    amps = [spectral_amplitudes(form, x) for x in (t_ref, t)]
    weight = [np.sum(np.abs(a.sum(axis=2)) ** 2, axis=1) for a in amps]  # gauge-invariant
    np.testing.assert_allclose(weight[1], weight[0], rtol=1e-8, atol=1e-10)


def test_both_backends_name_the_same_unstable_wavevectors():
    h = hamiltonian(quadratic_form(chain(+2.0, 1.0)), random_k(10))
    messages = []
    for backend in BACKENDS:
        with pytest.raises(UnstableStructureError, match="not positive definite") as err:
            colpa(h, "cpu", backend)
        messages.append(str(err.value))
    assert messages[0] == messages[1] and "of 10 wavevectors (first index" in messages[0]


def test_backend_choice_is_validated():
    with pytest.raises(ValueError, match="backend must be one of"):
        colpa(hamiltonian(quadratic_form(chain(-1.0, 1.0)), random_k(2)), "cpu", "jax")
