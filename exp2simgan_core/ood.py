"""Far out-of-distribution image sets in the shape of an INS layout image.

Two sets that ship with the installed packages (no downloads): the 8 x 8 handwritten digits of
scikit-learn, tiled one digit per (square) panel, and natural photographs of scikit-image,
cropped to the image's aspect ratio before resizing so that nothing is distorted. Values are
mapped linearly onto ``value_range`` (e.g. the range of the simulated spectra they are
compared with). Output shape ``(n, *layout.shape)``, float32.
"""

from __future__ import annotations

import numpy as np

from exp2simgan_core.physics.layout import Layout2D

DIGIT_MAX = 16.0  # sklearn's digits are integers 0..16
PHOTO_NAMES = ("camera", "astronaut", "coffee", "chelsea", "rocket", "coins", "moon")
MIN_CROP_FRACTION = 0.5  # smallest crop, as a fraction of the largest same-aspect crop


def _check(layout: Layout2D, n: int, value_range: tuple[float, float]) -> tuple[float, float]:
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer number of images, got {n!r}")
    lo, hi = (float(v) for v in value_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(
            f"value_range must be finite (low, high) with high > low, got {value_range}"
        )
    return lo, hi


def digits_images(
    layout: Layout2D,
    n: int,
    rng: np.random.Generator,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """Images tiled with random scikit-learn digits, one per panel, shape (n, *layout.shape).

    Each 8 x 8 digit is upsampled (bilinear) to a square n_pix x n_pix panel; 0 maps to
    ``value_range[0]`` and 16 to ``value_range[1]``.
    """
    from skimage.transform import resize
    from sklearn.datasets import load_digits

    lo, hi = _check(layout, n, value_range)
    digits = load_digits().images  # (1797, 8, 8), 0..16
    size = (layout.n_pix, layout.n_pix)
    n_panels = len(layout.ei_mev) * layout.n_ebins
    picks = rng.integers(0, len(digits), size=(n, n_panels))
    panels = np.zeros((n, n_panels, *size))  # (n, n_ei * n_ebins, n_pix(H), n_pix(K))
    for i, row in enumerate(picks):
        for p, k in enumerate(row):
            panels[i, p] = resize(digits[k], size, order=1, mode="edge")
    panels = panels.reshape(n, len(layout.ei_mev), layout.n_ebins, *size)
    images = layout.assemble(panels)  # (n, *layout.shape)
    return (lo + (hi - lo) * np.clip(images, 0.0, DIGIT_MAX) / DIGIT_MAX).astype(np.float32)


def _load_photos() -> list[np.ndarray]:
    """Grayscale photographs in [0, 1] from ``skimage.data`` (bundled with the package)."""
    from skimage import data
    from skimage.color import rgb2gray
    from skimage.util import img_as_float

    photos = []
    for name in PHOTO_NAMES:
        image = img_as_float(getattr(data, name)())
        photos.append(rgb2gray(image) if image.ndim == 3 else image)
    return photos


def _random_crop(photo: np.ndarray, aspect: float, rng: np.random.Generator) -> np.ndarray:
    """Random crop with rows / columns = ``aspect``."""
    rows, cols = photo.shape
    max_rows = min(rows, int(cols * aspect))
    crop_rows = int(rng.uniform(MIN_CROP_FRACTION, 1.0) * max_rows)
    crop_cols = max(1, int(round(crop_rows / aspect)))
    r0 = rng.integers(0, rows - crop_rows + 1)
    c0 = rng.integers(0, cols - crop_cols + 1)
    return photo[r0 : r0 + crop_rows, c0 : c0 + crop_cols]


def photo_images(
    layout: Layout2D,
    n: int,
    rng: np.random.Generator,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """Crops of scikit-image photographs resized to the layout, shape (n, *layout.shape).

    Each image is a random crop of a random photograph in ``PHOTO_NAMES`` (grayscale) with the
    layout image's aspect ratio, resized with anti-aliasing; gray level 0 maps to
    ``value_range[0]`` and 1 to ``value_range[1]``.
    """
    from skimage.transform import resize

    lo, hi = _check(layout, n, value_range)
    photos = _load_photos()
    rows, cols = layout.shape
    out = np.empty((n, rows, cols), dtype=np.float32)
    for i in range(n):
        crop = _random_crop(photos[rng.integers(0, len(photos))], rows / cols, rng)
        image = resize(crop, (rows, cols), order=1, anti_aliasing=True, mode="reflect")
        out[i] = lo + (hi - lo) * np.clip(image, 0.0, 1.0)
    return out
