"""Spectrum representations: shapes, symmetry, the Horace reference and the Monte Carlo check."""

from pathlib import Path

import numpy as np
import pytest

from exp2simgan_core.physics.layout import Layout2D, Layout3D
from exp2simgan_core.physics.models import MODELS
from exp2simgan_core.physics.montecarlo import monte_carlo_panel
from exp2simgan_core.physics.spectra import SpectrumCalculator, SpectrumSettings, sub_cell_spread

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
GOODENOUGH = MODELS["goodenough"]
SMALL = Layout2D(n_pix=10, ei_mev=(25.0, 70.0, 140.0), chopper_hz=(300.0, 250.0, 400.0))


def reference(name: str) -> np.ndarray:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"reference data {path} is absent")
    return np.load(path)


def row_correlations(image: np.ndarray, ref: np.ndarray, uncovered: np.ndarray) -> np.ndarray:
    out = []
    for i in range(6):
        rows = slice(40 * i, 40 * (i + 1))
        keep = ~uncovered[rows]
        out.append(np.corrcoef(image[rows][keep], ref[rows][keep])[0, 1])
    return np.array(out)


def test_pair_shapes_mask_and_determinism():
    uncovered = np.zeros(SMALL.shape, bool)
    uncovered[:3, :5] = True
    calc = SpectrumCalculator(GOODENOUGH, SpectrumSettings(layout=SMALL), uncovered)
    unconv, conv = calc.pair(GOODENOUGH.best_fit)
    for image in (unconv, conv):
        assert image.shape == SMALL.shape == (30, 100) and image.dtype == np.float32
        assert np.array_equal(np.isnan(image), uncovered)
        assert np.nanmin(image) >= 0 and np.nanmax(image) > 0
    again = calc.pair(GOODENOUGH.best_fit)
    assert np.array_equal(conv, again[1], equal_nan=True)
    assert np.array_equal(unconv, again[0], equal_nan=True)


def test_convolved_is_smoother_and_keeps_the_weight():
    calc = SpectrumCalculator(GOODENOUGH, SpectrumSettings(layout=SMALL))
    unconv, conv = calc.pair(GOODENOUGH.best_fit)
    # resolution spreads the weight: the convolved image has far fewer empty pixels
    assert (conv > 1e-6).mean() > (unconv > 1e-6).mean() + 0.2
    # weight summed over an Ei row agrees within 15 % (edges of the energy window leak)
    for i in range(3):
        rows = slice(10 * i, 10 * (i + 1))
        assert conv[rows].sum() == pytest.approx(unconv[rows].sum(), rel=0.15)


@pytest.mark.parametrize("convention", ["physical", "horace"])
def test_symmetric_under_h_and_k_reflection(convention):
    calc = SpectrumCalculator(GOODENOUGH, SpectrumSettings(layout=SMALL, convention=convention))
    _, conv = calc.pair(GOODENOUGH.best_fit)
    panels = SMALL.split(conv)
    np.testing.assert_allclose(panels[..., ::-1, :], panels, rtol=1e-4, atol=1e-6 * conv.max())
    np.testing.assert_allclose(panels[..., :, ::-1], panels, rtol=1e-4, atol=1e-6 * conv.max())


def test_volume_layout():
    layout = Layout3D(ei_mev=70.0, chopper_hz=250.0, n_pix=12, n_e=8)
    unconv, conv = SpectrumCalculator(GOODENOUGH, SpectrumSettings(layout=layout)).pair(
        GOODENOUGH.best_fit
    )
    assert unconv.shape == conv.shape == (12, 12, 8)
    assert conv.max() > 0


def test_settings_are_validated():
    with pytest.raises(ValueError, match="convention"):
        SpectrumSettings(convention="spinw")
    with pytest.raises(ValueError, match="oversample"):
        SpectrumSettings(oversample=4)
    with pytest.raises(ValueError, match="parameters"):
        SpectrumCalculator(GOODENOUGH, SpectrumSettings(layout=SMALL)).pair([1.0, 2.0])
    with pytest.raises(ValueError, match="ei_mev"):
        SpectrumCalculator(
            GOODENOUGH, SpectrumSettings(layout=Layout2D(ei_mev=(5000.0,), chopper_hz=(300.0,)))
        )


def test_sub_cell_spread_of_a_linear_dispersion():
    i, j = np.meshgrid(np.arange(9.0), np.arange(9.0), indexing="ij")
    omega = (3.0 * i + 4.0 * j).reshape(-1, 1)
    spread = sub_cell_spread(omega, 9).reshape(9, 9)
    np.testing.assert_allclose(spread, 5.0 / np.sqrt(12.0), rtol=1e-12)


@pytest.mark.slow
def test_horace_convention_matches_the_tobyfit_reference():
    """The authors' Horace/Tobyfit image of the Goodenough best fit (Monte Carlo, 5 points per
    pixel, so its own noise caps the attainable correlation)."""
    ref = reference("horace_bestfit_goodenough.npy")
    uncovered = reference("maps_uncovered_mask.npy")
    r = {}
    for convention in ("horace", "physical"):
        calc = SpectrumCalculator(GOODENOUGH, SpectrumSettings(convention=convention))
        _, conv = calc.pair(GOODENOUGH.best_fit)
        keep = ~uncovered
        r[convention] = np.corrcoef(conv[keep], ref[keep])[0, 1]
        print(
            convention, round(r[convention], 3), np.round(row_correlations(conv, ref, uncovered), 3)
        )
    assert r["horace"] >= 0.85
    assert r["physical"] < r["horace"]  # the reference was made with the authors' conventions


@pytest.mark.slow
def test_fast_convolution_matches_brute_force_monte_carlo():
    calc = SpectrumCalculator(GOODENOUGH, SpectrumSettings(oversample=3))
    _, conv = calc.pair(GOODENOUGH.best_fit)
    window = (slice(7, 13), slice(23, 29))
    for i_ei, j_bin in [(0, 3), (5, 1)]:
        mc = monte_carlo_panel(calc, GOODENOUGH.best_fit, i_ei, j_bin, 1024, seed=3, window=window)
        fast = Layout2D().panel(conv, i_ei, j_bin)[window]
        rel = np.linalg.norm(fast - mc) / np.linalg.norm(mc)
        print((i_ei, j_bin), "relative L2", round(rel, 4))
        assert rel <= 0.03
