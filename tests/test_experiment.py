"""The measured-data model (exp2simgan_core.physics.experiment)."""

import numpy as np
import pytest

from exp2simgan_core.physics.experiment import (
    LOW_ANGLE_TUBES,
    ExperimentSettings,
    make_experiment_like,
    tube_live_fraction,
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
    out = _run(seed=7, dead_tube_fraction=0.5)
    assert np.nanmin(out) >= 0.0
    # dead tubes are the generator's first draw: the same seed reproduces them
    live = tube_live_fraction(LAYOUT, 0.5, np.random.default_rng(7))
    assert (live < 1).any()
    np.testing.assert_array_equal(np.isnan(out), uncovered | (live == 0))


class _Tubes:
    """Stands in for the generator: tube i is dead where ``draws[i] < fraction``."""

    def __init__(self, dead_tubes):
        self.draws = np.ones(LOW_ANGLE_TUBES)
        self.draws[list(dead_tubes)] = 0.0

    def random(self, n):
        assert n == LOW_ANGLE_TUBES
        return self.draws


def test_a_dead_tube_costs_its_share_of_each_pixel_it_crosses():
    assert (tube_live_fraction(LAYOUT, 0.0, np.random.default_rng(1)) == 1).all()
    # one dead tube, just off alpha = 0: per K column the rows near H = 0 lose a part
    tube = LOW_ANGLE_TUBES // 2
    live = LAYOUT.split(tube_live_fraction(LAYOUT, 0.5, _Tubes([tube])))
    assert live.min() > 0  # a 16-pixel panel's pixel spans about 9 tubes: none is lost
    centre = LAYOUT.n_pix // 2
    lossy_rows = np.flatnonzero((live < 1).any(axis=(0, 1, 3)))
    assert set(lossy_rows) <= {centre - 1, centre}  # the rows around H = 0
    # all tubes dead: the pixels at H = 0 are seen by none
    everything = LAYOUT.split(tube_live_fraction(LAYOUT, 0.5, _Tubes(range(LOW_ANGLE_TUBES))))
    assert (everything[..., centre - 1 : centre + 1, :] == 0).all()
    # more dead tubes (the same draws, a higher fraction) never give a pixel more coverage
    low, high = (tube_live_fraction(LAYOUT, f, np.random.default_rng(3)) for f in (0.1, 0.4))
    assert (high <= low).all() and (high < low).any()
    with pytest.raises(ValueError, match="fraction"):
        tube_live_fraction(LAYOUT, 1.5, np.random.default_rng(1))


def test_a_pixel_seen_only_by_dead_tubes_is_lost():
    fine = Layout2D(n_pix=201, ei_mev=(25.0,), chopper_hz=(300.0,), n_ebins=2)
    two = [LOW_ANGLE_TUBES // 2 - 1, LOW_ANGLE_TUBES // 2]  # -0.31 to +0.22 degrees
    live = fine.split(tube_live_fraction(fine, 0.5, _Tubes(two)))
    # the pixels at H = 0 span +-0.005 r.l.u., about +-0.1 degrees at k_f = 3.5 / Angstrom
    assert (live[..., 100, :] == 0).all()
    assert ((live > 0) & (live < 1)).any()  # its neighbours lose a part
    # a realistic fraction at the paper's 40 pixels: pixels lose counts, hardly ever all of them
    paper = Layout2D(n_pix=40)
    shares = [tube_live_fraction(paper, 0.02, np.random.default_rng(s)) for s in range(10)]
    assert np.mean([(x < 1).mean() for x in shares]) > 0.001
    assert np.mean([(x == 0).mean() for x in shares]) < 0.001


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
