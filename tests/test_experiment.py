"""The measured-data model (exp2simgan_core.physics.experiment)."""

import numpy as np
import pytest

from exp2simgan_core.physics.experiment import (
    ExperimentSettings,
    dead_tube_mask,
    make_experiment_like,
)
from exp2simgan_core.physics.layout import Layout2D

LAYOUT = Layout2D(n_pix=16)  # image (96, 160)
QUIET = dict(
    background_q2=0.0,
    background_flat=0.0,
    background_elastic=0.0,
    n_spurions=0,
    dead_tube_fraction=0.0,
)  # only counting noise


def _signal(layout=LAYOUT):
    """A smooth positive test spectrum, peak about 2, of the layout's shape."""
    rows, cols = np.mgrid[0 : layout.shape[0], 0 : layout.shape[1]]
    return 1.0 + np.sin(rows / 7.0) ** 2 + 0.5 * np.cos(cols / 11.0) ** 2


def _uncovered(layout=LAYOUT):
    """Beam hole (central 2 x 2 pixels of every panel) and the top row of every panel."""
    panels = np.zeros((len(layout.ei_mev), layout.n_ebins, layout.n_pix, layout.n_pix), bool)
    mid = layout.n_pix // 2
    panels[..., mid - 1 : mid + 1, mid - 1 : mid + 1] = True
    panels[..., 0, :] = True
    return layout.assemble(panels)


def _run(seed=0, signal=None, **settings):
    signal = _signal() if signal is None else signal
    rng = np.random.default_rng(seed)
    return make_experiment_like(signal, LAYOUT, _uncovered(), rng, ExperimentSettings(**settings))


def test_deterministic_given_seed():
    a, b, c = _run(seed=3), _run(seed=3), _run(seed=4)
    assert a.dtype == np.float32 and a.shape == LAYOUT.shape
    np.testing.assert_array_equal(a, b)  # NaNs in the same places too
    assert not np.array_equal(a, c, equal_nan=True)


def test_non_negative_and_nan_only_where_masked_or_dead():
    uncovered = _uncovered()
    np.testing.assert_array_equal(np.isnan(_run(dead_tube_fraction=0.0)), uncovered)
    out = _run(seed=7, dead_tube_fraction=0.05)
    assert np.nanmin(out) >= 0.0
    # dead tubes are the generator's first draw: the same seed reproduces them
    dead = dead_tube_mask(LAYOUT, 0.05, np.random.default_rng(7))
    assert (dead & ~uncovered).any()
    np.testing.assert_array_equal(np.isnan(out), uncovered | dead)


def test_dead_tube_mask_is_a_line_per_panel():
    layout = Layout2D(n_pix=40)
    rng = np.random.default_rng(1)
    assert not dead_tube_mask(layout, 0.0, rng).any()
    masks = [dead_tube_mask(layout, 0.01, np.random.default_rng(seed)) for seed in range(20)]
    for mask in masks:
        panels = layout.split(mask).reshape(-1, 40, 40)
        per_column = panels.sum(axis=1)  # dead pixels per K column of each panel
        n_lines = per_column.max()  # one row per column per dead tube, at most
        for panel in panels:
            rows = np.flatnonzero(panel.any(axis=1))
            assert len(rows) <= 3 * max(n_lines, 1)  # nearly straight lines of constant H
    n_dead_rows = [layout.split(m)[0, 0].any(axis=1).sum() for m in masks]
    assert 0 < np.mean(n_dead_rows) < 5  # ~1.5 tubes of 152 at 1 %, some outside the panel
    with pytest.raises(ValueError, match="fraction"):
        dead_tube_mask(layout, 1.5, rng)


def test_counts_scale_sets_noise_level():
    signal = _signal()
    covered = ~_uncovered()
    rms = {}
    for counts in (30.0, 3000.0):
        out = _run(seed=1, counts_at_peak=counts, **QUIET)
        rms[counts] = np.sqrt(np.mean((out[covered] - signal[covered]) ** 2))
        assert np.mean(out[covered]) == pytest.approx(np.mean(signal[covered]), rel=0.02)
    assert rms[30.0] / rms[3000.0] == pytest.approx(10.0, rel=0.2)  # Poisson: 1 / sqrt(counts)


def test_exact_background_is_removed():
    signal = _signal()
    covered = ~_uncovered()
    out = _run(
        seed=2,
        counts_at_peak=1e7,
        background_error=0.0,
        n_spurions=0,
        dead_tube_fraction=0.0,
        background_flat=0.5,
        background_elastic=2.0,
    )
    np.testing.assert_allclose(out[covered], signal[covered], atol=0.02)  # noise ~ 1e-3


def test_spurions_are_small_bright_spots():
    signal = _signal()
    covered = ~_uncovered()
    settings = dict(counts_at_peak=1e7, background_error=0.0, dead_tube_fraction=0.0)
    none = _run(seed=5, n_spurions=0, **settings)
    spots = _run(seed=5, n_spurions=4, spurion_amplitude=5.0, **settings)
    excess = spots[covered] - signal[covered]
    peak = np.quantile(signal[covered], 0.99)
    assert np.max(np.abs(none[covered] - signal[covered])) < 0.05
    assert np.max(excess) > 2.0 * peak  # height 5 x peak, sampled off-centre at worst
    assert np.mean(excess > 0.1 * peak) < 0.02  # confined to a few pixels


@pytest.mark.parametrize(
    ("signal", "uncovered", "message"),
    [
        (np.ones((10, 10)), None, r"shape \(10, 10\)"),
        (None, np.zeros((96, 160), dtype=int), "bool array"),
        (np.full(LAYOUT.shape, np.nan), None, "NaN/inf in covered pixels"),
        (-np.ones(LAYOUT.shape), None, "must be >= 0"),
        (np.zeros(LAYOUT.shape), None, "no positive intensity"),
    ],
)
def test_bad_input_raises(signal, uncovered, message):
    signal = _signal() if signal is None else signal
    uncovered = _uncovered() if uncovered is None else uncovered
    with pytest.raises(ValueError, match=message):
        make_experiment_like(signal, LAYOUT, uncovered, np.random.default_rng(0))


def test_nan_allowed_where_uncovered():
    signal = _signal()
    signal[_uncovered()] = np.nan
    out = make_experiment_like(signal, LAYOUT, _uncovered(), np.random.default_rng(0))
    assert np.isfinite(out[~np.isnan(out)]).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"counts_at_peak": 0.0}, "counts_at_peak"),
        ({"n_spurions": -1}, "n_spurions"),
        ({"dead_tube_fraction": 1.0}, "dead_tube_fraction"),
        ({"peak_quantile": 0.0}, "peak_quantile"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ExperimentSettings(**kwargs)
