"""Far out-of-distribution image sets (exp2simgan_core.ood)."""

import numpy as np
import pytest
from skimage.transform import resize
from sklearn.datasets import load_digits

from exp2simgan_core.ood import _random_crop, digits_images, photo_images
from exp2simgan_core.physics.layout import Layout2D

LAYOUT = Layout2D(n_pix=16)  # image (96, 160)
RANGE = (0.0, 74.0)  # e.g. the intensity range of the simulated spectra


@pytest.mark.parametrize("make", [digits_images, photo_images])
def test_shape_dtype_range_and_determinism(make):
    a = make(LAYOUT, 3, np.random.default_rng(0), RANGE)
    b = make(LAYOUT, 3, np.random.default_rng(0), RANGE)
    c = make(LAYOUT, 3, np.random.default_rng(1), RANGE)
    assert a.shape == (3, *LAYOUT.shape) and a.dtype == np.float32
    assert np.isfinite(a).all()
    assert a.min() >= RANGE[0] and a.max() <= RANGE[1]
    assert a.max() - a.min() > 0.5 * (RANGE[1] - RANGE[0])  # uses most of the range
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert make(LAYOUT, 0, np.random.default_rng(0), RANGE).shape == (0, *LAYOUT.shape)


def test_every_panel_is_an_upsampled_digit():
    digits = load_digits().images.reshape(-1, 64) / 16.0
    digits = digits - digits.mean(axis=1, keepdims=True)
    image = digits_images(LAYOUT, 1, np.random.default_rng(2), (0.0, 1.0))[0]
    panels = LAYOUT.split(image).reshape(-1, LAYOUT.n_pix, LAYOUT.n_pix)
    for panel in panels:
        small = resize(panel, (8, 8), order=1, anti_aliasing=True).ravel()
        small = small - small.mean()
        corr = digits @ small / (np.linalg.norm(digits, axis=1) * np.linalg.norm(small) + 1e-12)
        assert corr.max() > 0.9  # matches some sklearn digit


def test_photos_are_smooth_natural_images():
    images = photo_images(LAYOUT, 4, np.random.default_rng(3), (0.0, 1.0))
    for image in images:
        assert image.std() > 0.02  # not flat
        left, right = image[:, :-1].ravel(), image[:, 1:].ravel()
        assert np.corrcoef(left, right)[0, 1] > 0.7  # neighbouring pixels correlate


@pytest.mark.parametrize("shape", [(512, 512), (300, 451), (100, 900)])
def test_crop_keeps_the_layout_aspect(shape):
    aspect = LAYOUT.shape[0] / LAYOUT.shape[1]
    rng = np.random.default_rng(4)
    for _ in range(20):
        crop = _random_crop(np.zeros(shape), aspect, rng)
        assert crop.shape[0] <= shape[0] and crop.shape[1] <= shape[1]
        assert crop.shape[0] / crop.shape[1] == pytest.approx(aspect, rel=0.02)


@pytest.mark.parametrize("make", [digits_images, photo_images])
@pytest.mark.parametrize(
    ("n", "value_range", "message"),
    [(-1, RANGE, "n must be"), (2, (1.0, 1.0), "value_range"), (2, (0.0, np.inf), "value_range")],
)
def test_bad_arguments_raise(make, n, value_range, message):
    with pytest.raises(ValueError, match=message):
        make(LAYOUT, n, np.random.default_rng(0), value_range)
