"""Model construction: bond sets, best-fit spectra, sampling, errors."""

from collections import Counter

import numpy as np
import pytest

from exp2simgan_core.physics.lswt import spin_waves
from exp2simgan_core.physics.models import (
    A_PCSMO,
    B_PCSMO,
    C_PCSMO,
    MODELS,
    _pcsmo_bonds,
    _pcsmo_sites,
    get_model,
)

NN = np.hypot(A_PCSMO, B_PCSMO) / 2


def per_site_counts(kind: str) -> dict[tuple[str, str], set[int]]:
    _, _, ions = _pcsmo_sites()
    counts = Counter()
    for i, j, _, label in _pcsmo_bonds(kind):
        counts[(i, label)] += 1
        counts[(j, label)] += 1
    out: dict[tuple[str, str], set[int]] = {}
    for (i, label), n in counts.items():
        out.setdefault((ions[i], label), set()).add(n)
    return out


def test_goodenough_bond_set():
    bonds = _pcsmo_bonds("goodenough")
    lengths: dict[str, set[float]] = {}
    for *_, d, label in bonds:
        lengths.setdefault(label, set()).add(round(float(np.linalg.norm(d)), 3))
    assert lengths == {
        "JF1": {round(NN, 3)}, "JA": {round(NN, 3)}, "Jperp": {round(0.2 * C_PCSMO, 3)},
        "JF3": {A_PCSMO}, "JF2": {round(2 * NN, 3)},
    }  # fmt: skip
    assert Counter(label for *_, label in bonds) == {
        "JF1": 16,
        "JA": 16,
        "JF2": 8,
        "JF3": 8,
        "Jperp": 8,
    }
    counts = per_site_counts("goodenough")
    assert counts == {
        ("Mn4+", "JF1"): {2}, ("Mn3+", "JF1"): {2}, ("Mn4+", "JA"): {2}, ("Mn3+", "JA"): {2},
        ("Mn4+", "Jperp"): {1}, ("Mn3+", "Jperp"): {1}, ("Mn3+", "JF3"): {2}, ("Mn4+", "JF2"): {2},
    }  # fmt: skip


def test_dimer_bond_set_each_site_one_of_each():
    counts = per_site_counts("dimer")
    for ion in ("Mn3+", "Mn4+"):
        for label in ("JFS", "JFW", "JA1", "JA2", "Jperp"):
            assert counts[(ion, label)] == {1}, (ion, label)


def test_goodenough_best_fit_band_edges():
    spec = MODELS["goodenough"]
    k = np.zeros((1, 3))
    omega, _ = spin_waves(spec.build(np.array(spec.best_fit)), k)
    assert omega.shape == (1, 16)
    gaps = np.sort(omega[0])
    assert gaps[0] < 1e-2  # Goldstone mode (rotation about c)
    assert gaps[1] == pytest.approx(1.88, abs=0.02)
    assert gaps[2] == pytest.approx(5.76, abs=0.02)
    assert omega.max() == pytest.approx(86.58, abs=0.05)


@pytest.mark.parametrize("name", ["goodenough", "dimer"])
def test_pcsmo_symmetric_under_h_and_k_reflection(name):
    spec = MODELS[name]
    system = spec.build(np.array(spec.best_fit))
    rng = np.random.default_rng(0)
    q = rng.uniform(-1.2, 1.2, size=(30, 3)) * [2 * np.pi / A_PCSMO, 2 * np.pi / B_PCSMO, 0]
    base, _ = spin_waves(system, q)
    for flip in ([-1, 1, 1], [1, -1, 1]):
        flipped, _ = spin_waves(system, q * flip)
        np.testing.assert_allclose(np.sort(flipped), np.sort(base), atol=1e-7)


def test_rb2mnf4_zone_boundary_and_gap():
    spec = MODELS["rb2mnf4"]
    j, d = spec.best_fit
    a = spec.lattice_ab[0]
    system = spec.build(np.array(spec.best_fit))
    delta = abs(d) / (2 * j)
    omega, _ = spin_waves(system, np.array([[np.pi / a, 0.0, 0.0], [2 * np.pi / a, 0.0, 0.0]]))
    assert omega[0].max() == pytest.approx(4 * j * 2.5 * (1 + delta), rel=1e-8)  # gamma = 0
    assert omega[1].min() == pytest.approx(4 * j * 2.5 * np.sqrt((1 + delta) ** 2 - 1), rel=1e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_builds_and_samples_in_range(name):
    spec = MODELS[name]
    rng = np.random.default_rng(5)
    for _ in range(20):
        p = spec.sample(rng)
        lo, hi = np.array(spec.ranges).T
        assert np.all((p >= lo) & (p <= hi))
    system = spec.build(np.array(spec.best_fit))
    omega, _ = spin_waves(system, np.array([[0.3, 0.2, 0.0]]))
    assert np.all(omega > 0)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="takes 6 parameters"):
        MODELS["goodenough"].check_params([1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        MODELS["dimer"].check_params([np.nan] * 6)
    with pytest.raises(ValueError, match="unknown model 'pcsmo'"):
        get_model("pcsmo")
