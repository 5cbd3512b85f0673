"""Classical deconvolution baselines: PSF construction, sharpening, masks and input checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import convolve
from scipy.special import ndtr
from skimage.metrics import peak_signal_noise_ratio

from exp2simgan_core.baselines import (
    BaselineSettings,
    energy_kernel,
    pixel_kernel,
    resolution_psf,
    resolution_widths,
    richardson_lucy_spectra,
    separable_psf,
    wiener_spectra,
)
from exp2simgan_core.physics.instrument import q_resolution_sigma_rlu
from exp2simgan_core.physics.layout import Layout2D

LAYOUT = Layout2D(n_pix=16, n_ebins=10)  # the six paper Ei, 96 x 160 image
BASELINES = {"richardson_lucy": richardson_lucy_spectra, "wiener": wiener_spectra}


def axis_variance(psf: np.ndarray, axis: int) -> float:
    """Second moment of the PSF's marginal along ``axis``, in pixels^2 (or bins^2)."""
    marginal = psf.sum(axis=tuple(a for a in range(psf.ndim) if a != axis))
    d = np.arange(len(marginal)) - len(marginal) // 2
    return float(np.sum(marginal * d**2))


def test_kernels_match_direct_integration():
    """Midpoint rule with 20,000 sub-steps; agreement to 1e-7."""
    u = (np.arange(20_000) + 0.5) / 20_000  # position of the mode in its bin / across a pixel
    for s in (0.05, 0.3, 1.2):
        d = np.arange(-4, 5)[:, None]
        expected = (ndtr((d + 1 - u) / s) - ndtr((d - u) / s)).mean(axis=1)
        np.testing.assert_allclose(energy_kernel(s, 4), expected, atol=1e-7)
        gaussian = np.exp(-0.5 * ((d - 0.5 + u) / s) ** 2) / (s * np.sqrt(2 * np.pi))
        np.testing.assert_allclose(pixel_kernel(s, 4), gaussian.mean(axis=1), atol=1e-7)
    assert np.array_equal(energy_kernel(0.0, 2), [0, 0, 1, 0, 0])
    assert np.array_equal(pixel_kernel(0.0, 1), [0, 1, 0])


def test_psf_sums_to_one_and_widens_with_sigma():
    narrow, wide = separable_psf(0.2, 0.3, 0.1), separable_psf(0.6, 0.9, 0.5)
    for psf in (narrow, wide):
        assert psf.sum() == pytest.approx(1.0, abs=1e-12)
        assert all(n % 2 == 1 for n in psf.shape)
        assert np.all(psf >= 0)
    for axis in range(3):
        assert axis_variance(wide, axis) > axis_variance(narrow, axis)
    capped = separable_psf(3.0, 3.0, 3.0, max_shape=(10, 16, 16))
    assert capped.shape == (9, 15, 15)
    assert capped.sum() == pytest.approx(1.0, abs=1e-12)


def test_resolution_psf_follows_the_instrument():
    for i, ei in enumerate(LAYOUT.ei_mev):
        psf = resolution_psf(LAYOUT, i)
        assert psf.sum() == pytest.approx(1.0, abs=1e-12)
        assert all(n % 2 == 1 for n in psf.shape)
        sigma_e, sigma_h, sigma_k = resolution_widths(LAYOUT, i)
        assert sigma_h == pytest.approx(q_resolution_sigma_rlu(ei)[0] / LAYOUT.pixel_width)
        assert sigma_k == pytest.approx(q_resolution_sigma_rlu(ei)[1] / LAYOUT.pixel_width)
        assert 0.1 < sigma_e < 0.5  # MAPS: sigma_E is 1-2.5 % of Ei, bins are 6 % of Ei
    # Q resolution grows with k_i on a fixed pixel grid: the 140 meV PSF is wider in H and K.
    low, high = resolution_psf(LAYOUT, 0), resolution_psf(LAYOUT, 5)
    assert axis_variance(high, 1) > axis_variance(low, 1)
    assert resolution_psf(LAYOUT, 0, q_resolution=False).shape[1:] == (1, 1)
    with pytest.raises(ValueError, match="i_ei=6"):
        resolution_psf(LAYOUT, 6)


def sharp_and_blurred(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Four delta peaks per Ei block, away from the edges, and their exact PSF convolution."""
    rng = np.random.default_rng(seed)
    blocks = np.zeros((n, len(LAYOUT.ei_mev), LAYOUT.n_ebins, LAYOUT.n_pix, LAYOUT.n_pix))
    for s, i in np.ndindex(blocks.shape[:2]):
        for _ in range(4):
            e, h, k = rng.integers(2, 8), rng.integers(3, 13), rng.integers(3, 13)
            blocks[s, i, e, h, k] += rng.uniform(0.5, 1.0)
    blurred = np.stack(
        [
            [convolve(blocks[s, i], resolution_psf(LAYOUT, i), mode="constant") for i in range(6)]
            for s in range(n)
        ]
    )
    return (
        LAYOUT.assemble(blocks).astype(np.float32),
        LAYOUT.assemble(blurred).astype(np.float32),
    )


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baselines_sharpen_a_resolution_blurred_spectrum(name):
    truth, blurred = sharp_and_blurred(2, seed=0)
    restored = BASELINES[name](blurred, LAYOUT)
    before = peak_signal_noise_ratio(truth, blurred, data_range=1.0)
    after = peak_signal_noise_ratio(truth, restored, data_range=1.0)
    assert after > before + 10.0  # measured: 41.2 dB -> 80.5 dB (RL), 67.2 dB (Wiener)
    assert restored.dtype == np.float32 and restored.shape == blurred.shape


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_masks_sign_and_intensity_are_kept(name):
    _, blurred = sharp_and_blurred(1, seed=1)
    blurred[0, 20:40, 30:70] = np.nan  # uncovered pixels across two Ei rows
    blurred[0, 0, 0] = -0.01  # background subtraction can leave small negative values
    restored = BASELINES[name](blurred, LAYOUT)
    assert np.array_equal(np.isnan(restored), np.isnan(blurred))
    assert np.all(restored[~np.isnan(restored)] >= 0)
    covered_in = LAYOUT.split(np.clip(np.nan_to_num(blurred), 0, None)).sum(axis=(-3, -2, -1))
    covered_out = LAYOUT.split(np.nan_to_num(restored)).sum(axis=(-3, -2, -1))
    np.testing.assert_allclose(covered_out, covered_in, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_wrong_input_is_refused(name):
    _, blurred = sharp_and_blurred(1, seed=2)
    with pytest.raises(ValueError, match=r"shape \(n, rows, cols\), got shape \(96, 160\)"):
        BASELINES[name](blurred[0], LAYOUT)
    with pytest.raises(ValueError, match="96 x 150 pixels but the layout expects 96 x 160"):
        BASELINES[name](blurred[:, :, :150], LAYOUT)
    blurred[0, 3, 3] = np.inf
    with pytest.raises(ValueError, match="spectrum 0 contains Inf"):
        BASELINES[name](blurred, LAYOUT)


@pytest.mark.parametrize(
    ("change", "name"),
    [({"rl_iterations": 0}, "rl_iterations"), ({"wiener_balance": 0.0}, "wiener_balance")],
)
def test_settings_are_validated(change, name):
    with pytest.raises(ValueError, match=name):
        BaselineSettings(**change)
