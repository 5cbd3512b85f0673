"""Tests of exp2simgan_core.gan.translate on a tiny trained GAN (seconds on 2 CPU cores)."""

import importlib
import math

import numpy as np
import pytest
import torch

from exp2simgan_core.dataset import INTENSITY_RULE
from exp2simgan_core.gan.checkpoint import DataScaling, LoadedGenerator, load_generator
from exp2simgan_core.gan.networks import ResnetGenerator
from exp2simgan_core.gan.settings import GanSettings, GeneratorSettings
from exp2simgan_core.gan.train import train
from exp2simgan_core.gan.translate import (
    change_agreement,
    mean_interval,
    translate_spectra,
    translation_quality,
)

translate_module = importlib.import_module("exp2simgan_core.gan.translate")

TINY = GanSettings(
    ngf=4, n_blocks=1, ndf=4, nce_layers=(0, 4, 8, 12), num_patches=16, mlp_dim=16,
    crop_size=24, n_epochs_constant=1, n_epochs_decay=1, checkpoint_every=2,
)  # fmt: skip


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    rng = np.random.default_rng(0)
    convolved = rng.random((2, 28, 32)).astype(np.float32)
    unconvolved = (rng.random((2, 28, 32)) * 4).astype(np.float32)
    out = tmp_path_factory.mktemp("gan")
    train(TINY, convolved, unconvolved, out, progress=False)
    return out


@pytest.fixture(scope="module")
def exp2sim(run_dir):
    return load_generator(run_dir / "checkpoints" / "iter_00000004.pt", "exp2sim")


def _spectra(shape, seed=1):
    x = np.random.default_rng(seed).random(shape).astype(np.float32)
    x[:, :3, :5] = np.nan  # an uncovered corner
    return x


def test_shape_dtype_and_nan_positions_are_preserved(exp2sim):
    x = _spectra((3, 30, 41))  # sizes not multiples of 4
    y = translate_spectra(exp2sim, x, batch=2)
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(y), np.isnan(x))
    assert np.nanmin(y) >= 0.0
    assert np.isfinite(y[~np.isnan(x)]).all()


def test_batching_does_not_change_the_result(exp2sim):
    x = _spectra((3, 28, 32))
    one = translate_spectra(exp2sim, x, batch=1)
    np.testing.assert_allclose(translate_spectra(exp2sim, x, batch=3), one, rtol=1e-5, atol=1e-6)


def test_translation_keeps_the_unit_and_the_total_intensity_of_its_input(exp2sim):
    x = _spectra((3, 28, 32))
    x[2] *= np.linspace(0.1, 3.0, 32, dtype=np.float32)  # spectra of different shapes and levels
    y = translate_spectra(exp2sim, x)
    np.testing.assert_allclose(np.nansum(y, axis=(1, 2)), np.nansum(x, axis=(1, 2)), rtol=1e-5)
    for factor in (1e-3, 250.0):  # another unit: the same translation in that unit
        scaled = translate_spectra(exp2sim, x * factor)
        np.testing.assert_allclose(scaled, y * factor, rtol=1e-4, atol=1e-6 * factor)
    # not a copy: the generator changes the distribution of the intensity
    assert np.nanmax(np.abs(y - x)) > 1e-3


def test_bad_inputs_are_refused_with_messages(exp2sim):
    with pytest.raises(
        ValueError,
        match=r"2D generator expects spectra of shape \(n, rows, cols\), got shape \(30, 41\)",
    ):
        translate_spectra(exp2sim, _spectra((1, 30, 41))[0])
    x = _spectra((3, 28, 32))
    x[1] = np.nan
    with pytest.raises(ValueError, match="spectrum 1 is NaN everywhere"):
        translate_spectra(exp2sim, x)
    x = _spectra((2, 28, 32))
    x[0, 10, 10] = np.inf
    with pytest.raises(ValueError, match="spectrum 0 contains Inf"):
        translate_spectra(exp2sim, x)
    x = _spectra((2, 28, 32))
    x[1, 10, 10] = -0.5
    with pytest.raises(ValueError, match="spectrum 1 has intensities down to -0.5"):
        translate_spectra(exp2sim, x)
    x[1, 10, 10] = -0.01  # background noise within 5 % of the maximum is accepted
    assert translate_spectra(exp2sim, x).shape == x.shape
    x = _spectra((6, 28, 32))
    x[5] = 0.0  # in the second batch of 4: named by its index in the whole stack
    with pytest.raises(ValueError, match="spectrum 5 has no positive, finite mean"):
        translate_spectra(exp2sim, x, batch=4)


def _loaded_3d():
    generator = ResnetGenerator(GeneratorSettings(dims=3, ngf=2, n_blocks=1)).eval()
    return LoadedGenerator(
        generator, "exp2sim", "convolved", "unconvolved", DataScaling(1.0, 4.0, INTENSITY_RULE)
    )


def test_3d_generator_refuses_2d_data_and_tiles_large_volumes():
    loaded = _loaded_3d()
    with pytest.raises(
        ValueError, match=r"3D generator expects .*\(n, H, K, E\), got shape \(2, 28, 32\)"
    ):
        translate_spectra(loaded, _spectra((2, 28, 32)))
    x = _spectra((1, 8, 6, 30))
    whole = translate_spectra(loaded, x)
    tiled = translate_spectra(loaded, x, max_voxels=8 * 6 * 12)  # tiles of 12 energy bins
    assert tiled.shape == x.shape and tiled.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(tiled), np.isnan(x))
    covered = ~np.isnan(x)
    assert np.isfinite(tiled[covered]).all()
    # instance norm sees each tile alone: close to, not equal to, the whole translation
    assert not np.array_equal(tiled[covered], whole[covered])


def test_tiles_are_placed_and_blended_exactly(monkeypatch):
    """With an exact identity generator (residual, last convolution zero) the tiled translation
    of scaled data is the data itself, whatever the tile width."""
    generator = ResnetGenerator(GeneratorSettings(dims=3, ngf=2, n_blocks=1, residual=True))
    last_conv = [m for m in generator.modules() if isinstance(m, torch.nn.Conv3d)][-1]
    torch.nn.init.zeros_(last_conv.weight)
    torch.nn.init.zeros_(last_conv.bias)
    calls = []
    full = translate_module.translate_full
    monkeypatch.setattr(
        translate_module, "translate_full", lambda g, x: calls.append(x.shape) or full(g, x)
    )
    x = torch.rand(1, 1, 8, 6, 30) * 1.8 - 0.9  # inside (-1, 1): the clamp does nothing
    with torch.no_grad():
        for max_voxels in (8 * 6 * 12, 8 * 6 * 20):
            calls.clear()
            tiled = translate_module._translate_tiled(generator.eval(), x, max_voxels)
            assert len(calls) > 1 and all(shape[-1] < 30 for shape in calls)
            torch.testing.assert_close(tiled, x, rtol=0, atol=1e-6)


def test_quality_keys_and_the_perfect_translation(exp2sim):
    target = _spectra((2, 28, 32), seed=2) * 4
    before = _spectra((2, 28, 32), seed=3)
    quality = translation_quality(target.copy(), target, before)
    assert set(quality) == {
        "psnr_before", "psnr_after", "ssim_before", "ssim_after", "change_cosine", "change_size",
        "psnr_gain_low", "psnr_gain_high",
    }  # fmt: skip
    assert quality["psnr_after"] == math.inf  # identical covered pixels: PSNR is infinite
    assert math.isnan(quality["psnr_gain_low"])  # no interval for an infinite change
    assert quality["change_cosine"] == pytest.approx(1.0) and quality["change_size"] == 1.0
    assert quality["ssim_after"] == pytest.approx(1.0, abs=1e-12)
    assert quality["psnr_before"] < 20 and quality["ssim_before"] < 0.9
    pred = translate_spectra(exp2sim, before)
    quality = translation_quality(pred, target, before)
    assert all(np.isfinite(v) for v in quality.values())


def test_mean_interval_is_the_student_t_interval():
    values = np.array([1.0, 2.0, 4.0, 7.0])  # mean 3.5, sample sd sqrt(7), t(0.975, 3) = 3.182446
    low, high = mean_interval(values)
    half = 3.182446305284263 * 7**0.5 / 2
    assert (low, high) == pytest.approx((3.5 - half, 3.5 + half), rel=1e-12)
    assert mean_interval(values, level=0.5)[1] - 3.5 < half / 3  # narrower at a lower level
    assert all(math.isnan(v) for v in mean_interval(np.array([1.0])))
    assert all(math.isnan(v) for v in mean_interval(np.array([1.0, math.inf])))


def test_the_psnr_change_interval_covers_the_mean_change():
    target = _spectra((12, 28, 32), seed=2) * 4
    before = _spectra((12, 28, 32), seed=3)
    pred = 0.5 * (target + before)  # halfway: PSNR rises for every spectrum
    quality = translation_quality(pred, target, before)
    change = quality["psnr_after"] - quality["psnr_before"]
    assert 0 < quality["psnr_gain_low"] < change < quality["psnr_gain_high"]


def test_change_agreement_direction_and_size():
    rng = np.random.default_rng(4)
    before = rng.random((12, 10))
    needed = rng.normal(size=(12, 10))
    target = before + needed
    target[0, :4] = np.nan  # uncovered bins are left out
    assert change_agreement(before + 0.3 * needed, target, before) == pytest.approx((1.0, 0.3))
    assert change_agreement(before - 2 * needed, target, before) == pytest.approx((-1.0, 2.0))
    assert change_agreement(before.copy(), target, before) == (0.0, 0.0)  # no change made
    other = rng.normal(size=(12, 10))  # unrelated to the needed change
    other -= (other * needed).sum() / (needed**2).sum() * needed
    cosine, _ = change_agreement(before + other, before + needed, before)
    assert cosine == pytest.approx(0.0, abs=1e-12)
    # half the needed change plus an unrelated part of the same size: cos 45 degrees
    half = 0.5 * needed
    orth = other / np.linalg.norm(other) * np.linalg.norm(half)
    made = half + orth
    assert change_agreement(before + made, before + needed, before) == pytest.approx(
        (np.sqrt(0.5), np.sqrt(0.5))
    )
    with pytest.raises(ValueError, match="no change is needed"):
        change_agreement(target, before, before)


def test_quality_psnr_reference_value():
    target = np.full((1, 8, 8), 2.0)
    before = target + 0.2  # mse 0.04, data_range 2: 10 log10(4 / 0.04) = 20 dB
    target[0, 0, 0] = np.nan  # excluded from PSNR
    assert translation_quality(target, target, before)["psnr_before"] == pytest.approx(20.0)
    with pytest.raises(ValueError, match="same shape"):
        translation_quality(target[:, :4], target, before)
    with pytest.raises(ValueError, match="target spectrum 0 has no positive"):
        translation_quality(target * 0, target * 0, before)
