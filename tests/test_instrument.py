"""MAPS kinematics and resolution (physics.instrument)."""

import numpy as np
import pytest
from reference_data import reference_path

from exp2simgan_core.physics.instrument import (
    LATTICE_C,
    NEUTRON_E2K,
    SIGMA_TO_FWHM,
    TOBYFIT_ENERGY_WIDTH_FACTOR,
    EnergyResolution,
    kinematic_l,
    kinematic_qz,
    q_resolution_sigma_rlu,
    wavevector,
)
from exp2simgan_core.physics.layout import PAPER_CHOPPER_HZ, PAPER_EI_MEV

TABLES = [f"maps_resolution/PCSMO_ei{int(ei)}_resolution.txt" for ei in PAPER_EI_MEV]


@pytest.fixture
def tables():
    """{Ei: (n, 12) Tobyfit table} for the paper's incident energies (per test, so that a skip
    names the test that needs them)."""
    paths = [reference_path(name) for name in TABLES]
    return {ei: np.loadtxt(f) for ei, f in zip(PAPER_EI_MEV, paths, strict=True)}


def _range_rows(table, ei):
    """Rows with 0.1 Ei <= E <= 0.7 Ei (the energy transfers of the paper's images)."""
    return table[(table[:, 2] >= 0.1 * ei) & (table[:, 2] <= 0.7 * ei)]


# ---- kinematics --------------------------------------------------------------------------


def test_wavevector_closed_form_and_negative_energy():
    assert float(wavevector(NEUTRON_E2K * 4.0)) == pytest.approx(2.0, rel=1e-12)
    with pytest.raises(ValueError, match="energy_mev"):
        wavevector(-1.0)


@pytest.mark.parametrize("ei", PAPER_EI_MEV)
def test_elastic_forward_scattering_has_no_qz(ei):
    assert float(kinematic_qz(ei, 0.0, 0.0)) == pytest.approx(0.0, abs=1e-12)


def test_qz_conserves_energy_and_broadcasts():
    rng = np.random.default_rng(0)
    ei = 70.0
    energy = rng.uniform(0.0, 0.7 * ei, size=(50, 1))
    q_in = rng.uniform(0.0, 2.0, size=(1, 40))
    qz = kinematic_qz(ei, energy, q_in)
    assert qz.shape == (50, 40)
    ki = np.sqrt(ei / NEUTRON_E2K)
    kf_sq = q_in**2 + (ki - qz) ** 2  # k_f = (-Q_inplane, k_i - Q_z)
    np.testing.assert_allclose(ki**2 - kf_sq, energy / NEUTRON_E2K * np.ones_like(qz), rtol=1e-10)
    assert np.all(ki - qz >= 0)  # forward branch


def test_forbidden_kinematics_is_nan_and_l_scales_qz():
    ei = 25.0
    kf = np.sqrt((ei - 20.0) / NEUTRON_E2K)
    out = kinematic_qz(ei, np.array([20.0, 20.0, 30.0]), np.array([kf * 1.01, kf * 0.5, 0.0]))
    assert np.isnan(out[0]) and np.isfinite(out[1]) and np.isnan(out[2])
    np.testing.assert_allclose(
        kinematic_l(ei, 5.0, 0.3), LATTICE_C / (2 * np.pi) * kinematic_qz(ei, 5.0, 0.3), rtol=1e-14
    )
    with pytest.raises(ValueError, match="ei_mev"):
        kinematic_qz(-5.0, 0.0, 0.0)


# ---- energy resolution --------------------------------------------------------------------


@pytest.mark.parametrize(("ei", "hz"), list(zip(PAPER_EI_MEV, PAPER_CHOPPER_HZ, strict=True)))
def test_energy_sigma_positive_and_decreasing(ei, hz):
    sigma = EnergyResolution(ei, hz).sigma_mev(np.linspace(0.0, 0.9 * ei, 30))
    assert sigma.shape == (30,)
    assert np.all(sigma > 0)
    assert np.all(np.diff(sigma) < 0)  # PyChop: the width falls with energy transfer
    assert 0.005 < sigma[0] / ei < 0.05  # a few per cent of Ei, FWHM/Ei ~ 1.2-12 %


def test_energy_sigma_scale_and_shape():
    energy = np.array([[1.0, 5.0], [10.0, 20.0]])
    base = EnergyResolution(50.0, 200.0, scale=1.0).sigma_mev(energy)
    scaled = EnergyResolution(50.0, 200.0).sigma_mev(energy)
    assert base.shape == (2, 2)
    np.testing.assert_allclose(scaled, TOBYFIT_ENERGY_WIDTH_FACTOR * base, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ei_mev": 5000.0, "chopper_hz": 300.0}, r"ei_mev=5000.0.*e_init in \[0, 2000\]"),
        ({"ei_mev": 50.0, "chopper_hz": 275.0}, r"chopper_hz=275.0.*50-600 Hz"),
        ({"ei_mev": -1.0, "chopper_hz": 300.0}, "ei_mev must be > 0"),
        ({"ei_mev": 50.0, "chopper_hz": 300.0, "scale": 0.0}, "scale must be > 0"),
    ],
)
def test_bad_resolution_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EnergyResolution(**kwargs)


def test_energy_transfer_at_or_above_ei_raises():
    with pytest.raises(ValueError, match="energy_transfer_mev"):
        EnergyResolution(25.0, 300.0).sigma_mev([1.0, 25.0])


def test_tobyfit_energy_width_factor_per_ei(tables):
    """Best scale of PyChop's sigma against the Tobyfit tables over 0.1-0.7 Ei (least squares)."""
    factors = {}
    for (ei, hz), table in zip(
        zip(PAPER_EI_MEV, PAPER_CHOPPER_HZ, strict=True), tables.values(), strict=True
    ):
        rows = _range_rows(table, ei)
        tobyfit = np.sqrt(rows[:, 11])
        pychop = EnergyResolution(ei, hz, scale=1.0).sigma_mev(rows[:, 2])
        factors[ei] = float(np.sum(tobyfit * pychop) / np.sum(pychop**2))
        scaled = TOBYFIT_ENERGY_WIDTH_FACTOR * pychop
        assert np.max(np.abs(scaled / tobyfit - 1)) < 0.15  # one factor fits every E within 15 %
        at_zero = table[np.isclose(table[:, 2], 0.0) | (np.abs(table[:, 2]) < 1.6)]
        ratio0 = np.sqrt(at_zero[:, 11]) / EnergyResolution(ei, hz, 1.0).sigma_mev(at_zero[:, 2])
        assert 1.15 < ratio0.mean() < 1.40  # README: FWHM(E=0) 1.2-1.35 x PyChop's
    expected = {25.0: 1.43, 35.0: 1.28, 50.0: 1.25, 70.0: 1.27, 100.0: 1.27, 140.0: 1.25}
    for ei, value in factors.items():
        assert value == pytest.approx(expected[ei], abs=0.01)
    assert pytest.approx(np.mean(list(factors.values())), abs=0.01) == TOBYFIT_ENERGY_WIDTH_FACTOR


# ---- in-plane Q resolution -----------------------------------------------------------------


def test_q_resolution_fwhm_range_and_growth():
    fwhm = np.array([q_resolution_sigma_rlu(ei) for ei in PAPER_EI_MEV]) * SIGMA_TO_FWHM
    assert np.all((fwhm > 0.019) & (fwhm < 0.052))  # about 0.02-0.05 r.l.u.
    assert np.all(np.diff(fwhm[:, 0]) > 0) and np.all(np.diff(fwhm[:, 1]) > 0)
    with pytest.raises(ValueError, match="ei_mev"):
        q_resolution_sigma_rlu(0.0)


def test_q_resolution_matches_tobyfit_tables(tables):
    """rms sigma_h, sigma_k of the tables over 0.1-0.7 Ei, within 3 % of the parametrisation."""
    for ei, table in tables.items():
        rows = _range_rows(table, ei)
        sig_h, sig_k = q_resolution_sigma_rlu(ei)
        assert sig_h == pytest.approx(np.sqrt(rows[:, 3].mean()), rel=0.03)
        assert sig_k == pytest.approx(np.sqrt(rows[:, 7].mean()), rel=0.03)
