"""Tests of exp2simgan_core.applicability: distances against POT, zones, encoder features."""

import itertools
import warnings

import numpy as np
import ot
import pytest
import torch
from ot.batch import solve_batch

from exp2simgan_core import sinkhorn, streams
from exp2simgan_core.applicability import (
    ENCODER_LAYER,
    FEATURE_GRID,
    ApplicabilitySettings,
    Zones,
    calibrate_zones,
    distance_table,
    draw_indices,
    nearest_distances,
    read_distances,
    regularisation,
    set_rng,
    sinkhorn_distances,
    spectrum_features,
    summary_rows,
    verdict,
    write_distances,
    zone_of,
)
from exp2simgan_core.dataset import INTENSITY_RULE
from exp2simgan_core.gan.checkpoint import DataScaling, LoadedGenerator
from exp2simgan_core.gan.layers import Downsample, ResnetBlock
from exp2simgan_core.gan.networks import ResnetGenerator
from exp2simgan_core.gan.settings import GeneratorSettings
from exp2simgan_core.sinkhorn import MAX_KERNEL_EXPONENT, SOLVER_THREADS

SMALL = ApplicabilitySettings(n_repeats=30, n_points=8, seed=3)


def cloud(n: int, d: int = 6, shift: float = 0.0, spread: float = 1.0, seed: int = 0):
    return np.random.default_rng(seed).normal(size=(n, d)) * spread + shift


def naive_distances(train, target, settings, rng, stop=1e-12):
    """One POT log-domain sinkhorn2 call per repeat, on the same draws as the batched code."""
    train_idx, set_idx = draw_indices(len(train), len(target), settings, rng)
    reg = regularisation(train, settings)
    out = []
    for ti, si in zip(train_idx, set_idx, strict=True):
        cost = ot.dist(train[ti], target[si])
        a, b = ot.unif(len(ti)), ot.unif(len(si))
        out.append(
            ot.sinkhorn2(a, b, cost, reg, method="sinkhorn_log", stopThr=stop, numItermax=10**6)
        )
    return np.array(out)


def shifted_range(train, target, settings, rng):
    """Largest row- and column-shifted cost of each repeat, in units of the regularisation."""
    train_idx, set_idx = draw_indices(len(train), len(target), settings, rng)
    costs = ot.dist(train, target)[train_idx[:, :, None], set_idx[:, None, :]]
    costs = costs - costs.min(axis=2, keepdims=True)
    costs = costs - costs.min(axis=1, keepdims=True)
    return costs.max(axis=(1, 2)) / regularisation(train, settings)


# --- settings and draws -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs", [{"n_repeats": 0}, {"n_points": 0}, {"reg": 0.0}, {"tol": -1.0}, {"max_iter": 0}]
)
def test_settings_refuse_non_positive_values(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ApplicabilitySettings(**kwargs)


def test_draws_are_without_replacement_and_take_all_of_small_sets():
    train_idx, set_idx = draw_indices(50, 5, SMALL, np.random.default_rng(0))
    assert train_idx.shape == (30, 8) and set_idx.shape == (30, 5)
    assert all(len(set(row)) == 8 for row in train_idx)
    assert (train_idx >= 0).all() and (train_idx < 50).all()
    np.testing.assert_array_equal(set_idx, np.tile(np.arange(5), (30, 1)))
    assert len({tuple(sorted(row)) for row in train_idx}) > 25  # the draws differ


def test_set_points_draws_fewer_set_points_than_training_points():
    settings = ApplicabilitySettings(n_repeats=30, n_points=8, set_points=3)
    train_idx, set_idx = draw_indices(50, 40, settings, np.random.default_rng(0))
    assert train_idx.shape == (30, 8) and set_idx.shape == (30, 3)
    assert all(len(set(row)) == 3 for row in set_idx)
    assert len({tuple(sorted(row)) for row in set_idx}) > 25
    with pytest.raises(ValueError, match="set_points"):
        ApplicabilitySettings(set_points=0)


def test_regularisation_is_a_fraction_of_the_mean_pair_cost():
    train = cloud(40)
    mean_pair_cost = ot.dist(train, train).mean()
    assert regularisation(train, SMALL) == pytest.approx(0.05 * mean_pair_cost, rel=1e-12)
    with pytest.raises(ValueError, match="zero spread"):
        regularisation(np.ones((5, 3)), SMALL)


# --- distances against POT ----------------------------------------------------------------------


def test_sinkhorn_distance_converges_to_exact_emd_as_reg_shrinks():
    train = cloud(8, d=2, seed=1)
    target = train + cloud(8, d=2, spread=0.15, seed=2)  # jittered copy: a clear optimal matching
    emd = ot.emd2(ot.unif(8), ot.unif(8), ot.dist(train, target))
    gaps = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every solve below converges to tol
        for reg in (0.5, 0.2, 0.1, 0.05, 0.002, 0.001):
            settings = ApplicabilitySettings(
                n_repeats=1, n_points=8, reg=reg, tol=1e-7, max_iter=10**5
            )
            (value,) = sinkhorn_distances(train, target, settings, rng=0)
            gaps.append((value - emd) / emd)
    assert all(g > 0 for g in gaps)  # the entropic plan never beats the exact one
    assert all(b < a for a, b in zip(gaps, gaps[1:], strict=False))
    assert gaps[0] > 1.0 and gaps[-1] < 0.01


def test_a_single_spectrum_gets_its_mean_cost_to_the_drawn_training_points():
    train, target = cloud(50, seed=3), cloud(1, shift=0.5, seed=4)
    settings = ApplicabilitySettings(n_repeats=6, n_points=10)
    train_idx, _ = draw_indices(50, 1, settings, np.random.default_rng(5))
    expected = ot.dist(train, target)[:, 0][train_idx].mean(axis=1)  # the only feasible plan
    np.testing.assert_allclose(sinkhorn_distances(train, target, settings, rng=5), expected)


def test_nearest_distance_is_the_cheapest_transport_onto_k_training_points():
    train, target = cloud(30, d=4, seed=7), cloud(3, d=4, shift=0.4, seed=8)
    settings = ApplicabilitySettings(k_nearest=4)
    got = nearest_distances(train, target, settings)
    cost = ot.dist(target, train)  # (3, 30)
    for i in range(3):  # exhaustive over every choice of 4 training points, mass 1/4 each
        best = min(cost[i, list(c)].mean() for c in itertools.combinations(range(30), 4))
        assert got[i] == pytest.approx(best, rel=1e-12)
    again = nearest_distances(train, target, ApplicabilitySettings(k_nearest=100))
    np.testing.assert_allclose(again, cost.mean(axis=1))  # k capped at n_train: all of them


def test_nearest_distance_tells_an_off_manifold_spectrum_from_a_central_one():
    # training spectra on a ring: its centre is the mean (smallest Sinkhorn distance of a
    # single point) but far from every training spectrum; a point on the ring is near some
    angle = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    ring = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    centre, on_ring = np.zeros((1, 2)), np.array([[np.cos(0.3), np.sin(0.3)]])
    settings = ApplicabilitySettings(n_repeats=200, n_points=20)
    sinkhorn = [sinkhorn_distances(ring, x, settings, rng=0).mean() for x in (centre, on_ring)]
    assert sinkhorn[0] < sinkhorn[1]  # the set measure prefers the centre
    near_centre, near_ring = (nearest_distances(ring, x, settings)[0] for x in (centre, on_ring))
    assert near_centre == pytest.approx(1.0) and near_ring < 0.01  # 5 of 200 ring neighbours


def test_nearest_distances_refuse_mismatched_or_non_finite_features():
    with pytest.raises(ValueError, match="same generator"):
        nearest_distances(cloud(5, d=3), cloud(2, d=4), ApplicabilitySettings())
    bad = cloud(2, d=3)
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="set features contain NaN"):
        nearest_distances(cloud(5, d=3), bad, ApplicabilitySettings())
    with pytest.raises(ValueError, match="k_nearest must be >= 1"):
        ApplicabilitySettings(k_nearest=0)


@pytest.mark.parametrize("max_exponent", [MAX_KERNEL_EXPONENT, 0.0], ids=["auto", "log-domain"])
def test_batched_equals_one_pot_call_per_repeat(monkeypatch, max_exponent):
    monkeypatch.setattr(sinkhorn, "MAX_KERNEL_EXPONENT", max_exponent)
    train = cloud(200, d=32, seed=4)
    settings = ApplicabilitySettings(n_repeats=25, n_points=10, tol=1e-10, max_iter=10**5)
    for target in (cloud(60, d=32, shift=0.3, seed=5), cloud(4, d=32, shift=1.0, seed=6)):
        batched = sinkhorn_distances(train, target, settings, rng=11)
        naive = naive_distances(train, target, settings, np.random.default_rng(11))
        np.testing.assert_allclose(batched, naive, rtol=1e-6)


def test_widely_spread_sets_take_the_log_domain_solver(monkeypatch):
    calls = []

    def spy(*args, **kwargs):
        calls.append((kwargs["method"], len(args[0])))
        return solve_batch(*args, **kwargs)

    monkeypatch.setattr(sinkhorn, "solve_batch", spy)
    train = cloud(200, d=32, seed=4)
    settings = ApplicabilitySettings(n_repeats=10, n_points=10, tol=1e-3)
    sinkhorn_distances(train, cloud(30, d=32, shift=0.3, seed=5), settings, rng=1)
    assert {method for method, _ in calls} == {"sinkhorn"} and calls[0] == ("sinkhorn", 10)
    wide = cloud(30, d=32, spread=12.0, seed=8)
    exponents = shifted_range(train, wide, settings, np.random.default_rng(1))
    n_log = int((exponents > MAX_KERNEL_EXPONENT).sum())
    assert 0 < n_log < 10  # a mixed batch
    calls.clear()
    batched = sinkhorn_distances(train, wide, settings, rng=1)
    first_rounds = {method: n for method, n in reversed(calls)}  # each method's first call
    assert first_rounds == {"sinkhorn": 10 - n_log, "log_sinkhorn": n_log}
    naive = naive_distances(train, wide, settings, np.random.default_rng(1), stop=settings.tol)
    np.testing.assert_allclose(batched, naive, rtol=2e-3)  # both stopped at a loose tol


def test_warm_started_rounds_continue_one_uninterrupted_run(monkeypatch):
    train, target = cloud(100, d=8, seed=12), cloud(40, d=8, shift=0.4, seed=13)
    settings = ApplicabilitySettings(n_repeats=20, n_points=10, tol=1e-9, max_iter=10**5)
    sizes = []

    def spy(*args, **kwargs):
        sizes.append(len(args[0]))
        return solve_batch(*args, **kwargs)

    monkeypatch.setattr(sinkhorn, "solve_batch", spy)
    rounds = sinkhorn_distances(train, target, settings, rng=2)
    assert len(sizes) >= 3 and sizes[0] == 20 and sizes[-1] < 20  # rounds on fewer problems
    monkeypatch.setattr(sinkhorn, "ROUND_ITER", settings.max_iter)
    sizes.clear()
    uninterrupted = sinkhorn_distances(train, target, settings, rng=2)
    assert sizes == [20]
    np.testing.assert_allclose(rounds, uninterrupted, rtol=1e-9)


def test_unconverged_solve_warns():
    train, target = cloud(50, seed=9), cloud(50, shift=0.2, seed=10)
    settings = ApplicabilitySettings(n_repeats=5, n_points=10, reg=0.01, tol=1e-12, max_iter=3)
    with pytest.warns(RuntimeWarning, match="max_iter=3"):
        sinkhorn_distances(train, target, settings, rng=0)


def test_distances_are_deterministic_with_a_seed():
    train, target = cloud(100), cloud(40, shift=0.5, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the default settings converge without a warning
        first = sinkhorn_distances(train, target, SMALL)
    again = sinkhorn_distances(train, target, SMALL, rng=streams.rng(SMALL.seed, "applicability"))
    np.testing.assert_array_equal(first, again)  # no rng: the named stream under settings.seed
    assert not np.array_equal(first, sinkhorn_distances(train, target, SMALL, rng=4))


def test_solver_thread_setting_is_temporary(monkeypatch):
    seen = []

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return solve_batch(*args, **kwargs)

    monkeypatch.setattr(sinkhorn, "solve_batch", spy)
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        sinkhorn_distances(cloud(50), cloud(20, seed=1), SMALL)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
    assert seen and set(seen) == {SOLVER_THREADS}


def test_set_streams_are_independent_of_other_sets():
    train, target = cloud(100), cloud(40, shift=0.5, seed=1)
    both = distance_table(train, {"a": target, "b": target}, SMALL)
    alone = distance_table(train, {"b": target}, SMALL)
    np.testing.assert_array_equal(both["b"], alone["b"])
    assert not np.array_equal(both["a"], both["b"])  # same features, different draws
    np.testing.assert_array_equal(
        both["a"], sinkhorn_distances(train, target, SMALL, set_rng(SMALL.seed, "a"))
    )


def test_far_set_is_farther_than_a_near_one():
    train = cloud(300, d=16)
    table = distance_table(
        train,
        {"near": cloud(100, d=16, seed=1), "far": cloud(100, d=16, shift=1.5, seed=2)},
        SMALL,
    )
    assert table["near"].shape == table["far"].shape == (30,)
    assert np.quantile(table["far"], 0.05) > np.quantile(table["near"], 0.95)


def test_distances_refuse_mismatched_or_bad_features():
    with pytest.raises(ValueError, match="same generator"):
        sinkhorn_distances(cloud(20, d=3), cloud(20, d=4), SMALL)
    bad = cloud(20)
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="set features contain NaN"):
        sinkhorn_distances(cloud(20), bad, SMALL)


# --- zones ---------------------------------------------------------------------------------------


def test_zone_thresholds_are_the_stated_quantiles():
    rng = np.random.default_rng(0)
    held, ood = rng.normal(1.0, 0.1, 2000), rng.normal(3.0, 0.3, 2000)
    zones = calibrate_zones(held, ood, held_out_sets=["test"], out_of_domain_sets=["digits"])
    assert zones.trust_max == pytest.approx(np.quantile(held, 0.95), rel=1e-12)
    assert zones.untrust_min == pytest.approx(np.quantile(ood, 0.05), rel=1e-12)
    assert 1.1 < zones.trust_max < 1.25 and 2.4 < zones.untrust_min < 2.6
    assert [zone_of(v, zones) for v in (0.9, zones.trust_max, 2.0, zones.untrust_min, 5.0)] == [
        "trustworthy", "trustworthy", "expert_opinion", "untrustworthy", "untrustworthy",
    ]  # fmt: skip
    record = zones.to_dict()
    assert record["held_out_sets"] == ["test"] and record["out_of_domain_sets"] == ["digits"]
    assert record["n_held_out"] == 2000 and record["overlap"] is False
    assert Zones.from_dict(record) == zones


def test_overlapping_distributions_leave_no_expert_zone():
    rng = np.random.default_rng(1)
    zones = calibrate_zones(rng.normal(1.0, 0.3, 500), rng.normal(1.2, 0.3, 500))
    assert zones.untrust_min == zones.trust_max
    assert zones.derivation["overlap"] is True
    assert zones.derivation["out_of_domain_quantile"] < zones.trust_max
    assert zone_of(zones.trust_max, zones) == "trustworthy"
    assert zone_of(np.nextafter(zones.trust_max, np.inf), zones) == "untrustworthy"


def test_zone_inputs_are_checked():
    with pytest.raises(ValueError, match="trust_quantile"):
        calibrate_zones(np.ones(3), np.ones(3), trust_quantile=1.0)
    with pytest.raises(ValueError, match="out-of-domain"):
        calibrate_zones(np.ones(3), np.array([]))
    with pytest.raises(ValueError, match="finite"):
        zone_of(float("nan"), Zones(1.0, 2.0))


def test_summary_rows_and_verdict_report_the_zone_of_the_mean():
    zones = Zones(1.0, 2.0, {"trust_quantile": 0.95})
    rows = summary_rows("exp2sim", {"test": np.array([0.5, 0.7]), "x": np.array([1.5, 3.5])}, zones)
    assert rows == [
        {"direction": "exp2sim", "set": "test", "mean": 0.6, "std": pytest.approx(0.1),
         "zone": "trustworthy"},
        {"direction": "exp2sim", "set": "x", "mean": 2.5, "std": 1.0, "zone": "untrustworthy"},
    ]  # fmt: skip
    result = verdict(np.array([1.2, 1.6]), zones)
    assert result["zone"] == "expert_opinion" and result["n_repeats"] == 2
    assert result["mean_distance"] == pytest.approx(1.4) and result[
        "std_distance"
    ] == pytest.approx(0.2)
    assert result["thresholds"] == {"trust_max": 1.0, "untrust_min": 2.0, "trust_quantile": 0.95}


def test_distance_file_round_trip(tmp_path):
    zones = Zones(1.0, 2.0, {"held_out_sets": ["test"]})
    distances = {"test": np.array([0.5, 0.7]), "digits": np.array([3.0, 4.0])}
    write_distances(tmp_path / "d.h5", "sim2exp", distances, SMALL, zones)
    record = read_distances(tmp_path / "d.h5")
    assert record.direction == "sim2exp" and record.settings == SMALL and record.zones == zones
    assert list(record.distances) == ["test", "digits"]
    np.testing.assert_array_equal(record.distances["digits"], [3.0, 4.0])
    write_distances(tmp_path / "n.h5", "exp2sim", distances, SMALL)
    assert read_distances(tmp_path / "n.h5").zones is None


# --- encoder features ----------------------------------------------------------------------------


def tiny_loaded(dims: int = 2, input_domain: str = "convolved", scaling=None) -> LoadedGenerator:
    torch.manual_seed(0)
    generator = ResnetGenerator(GeneratorSettings(dims=dims, ngf=4, n_blocks=1))
    output_domain = "unconvolved" if input_domain == "convolved" else "convolved"
    return LoadedGenerator(
        generator=generator,
        direction="exp2sim" if input_domain == "convolved" else "sim2exp",
        input_domain=input_domain,
        output_domain=output_domain,
        scaling=scaling
        or DataScaling(convolved_max=2.0, unconvolved_max=5.0, intensity=INTENSITY_RULE),
    )


def test_features_have_a_fixed_length_for_any_spectrum_size():
    loaded = tiny_loaded()
    rng = np.random.default_rng(0)
    spectra = rng.random((3, 12, 20)).astype(np.float32)
    spectra[1, :, :4] = np.nan
    features = spectrum_features(loaded, spectra, batch=2)
    d = loaded.generator.layer_channels(ENCODER_LAYER) * FEATURE_GRID**2
    assert features.shape == (3, d) == (3, 256) and features.dtype == np.float64
    assert np.isfinite(features).all()
    assert spectrum_features(loaded, rng.random((2, 7, 33))).shape == (2, 256)
    np.testing.assert_allclose(features, spectrum_features(loaded, spectra, batch=1), atol=1e-6)
    assert not np.allclose(features[0], features[2])


def test_features_are_the_last_down_sampling_output_before_the_residual_blocks():
    loaded = tiny_loaded()
    model = loaded.generator.model
    assert isinstance(model[ENCODER_LAYER], Downsample)
    assert isinstance(model[ENCODER_LAYER + 1], ResnetBlock)
    spectra = np.random.default_rng(3).random((2, 12, 12))
    before = spectrum_features(loaded, spectra)
    with torch.no_grad():
        for p in model[ENCODER_LAYER + 1].parameters():
            p.add_(1.0)  # residual blocks do not feed the features
    np.testing.assert_array_equal(spectrum_features(loaded, spectra), before)
    with torch.no_grad():
        model[ENCODER_LAYER - 3].weight.add_(0.1)  # the last down-sampling conv does
    assert not np.allclose(spectrum_features(loaded, spectra), before)


def test_features_of_volumes():
    features = spectrum_features(tiny_loaded(dims=3), np.random.default_rng(1).random((2, 8, 6, 9)))
    assert features.shape == (2, 16 * FEATURE_GRID**3) and np.isfinite(features).all()


def test_features_ignore_the_unit_and_scale_with_the_input_domain():
    spectra = np.random.default_rng(2).random((2, 10, 12)).astype(np.float32)
    masked = spectra.copy()
    masked[:, 3:6, 2:5] = np.nan
    exp2sim = tiny_loaded(
        scaling=DataScaling(convolved_max=4.0, unconvolved_max=7.0, intensity=INTENSITY_RULE)
    )
    features = spectrum_features(exp2sim, masked)
    np.testing.assert_allclose(spectrum_features(exp2sim, 30 * masked), features, atol=1e-6)
    assert not np.allclose(spectrum_features(exp2sim, spectra), features)  # coverage matters
    sim2exp = tiny_loaded(
        input_domain="unconvolved",
        scaling=DataScaling(convolved_max=9.0, unconvolved_max=4.0, intensity=INTENSITY_RULE),
    )  # same weights, reads unconvolved spectra scaled by the same maximum
    np.testing.assert_allclose(spectrum_features(sim2exp, masked), features, atol=1e-6)
    wider = tiny_loaded(
        scaling=DataScaling(convolved_max=8.0, unconvolved_max=7.0, intensity=INTENSITY_RULE)
    )
    assert not np.allclose(spectrum_features(wider, masked), features)


def test_features_refuse_bad_spectra_naming_them():
    loaded = tiny_loaded()
    good = np.ones((3, 8, 8), np.float32)
    with pytest.raises(ValueError, match="2D generator"):
        spectrum_features(loaded, good[0])
    with pytest.raises(ValueError, match="every axis >= 5"):
        spectrum_features(loaded, good[:, :4])
    nan = good.copy()
    nan[2] = np.nan
    with pytest.raises(ValueError, match="spectrum 2 is NaN everywhere"):
        spectrum_features(loaded, nan)
    inf = good.copy()
    inf[1, 0, 0] = np.inf
    with pytest.raises(ValueError, match="spectrum 1 contains Inf"):
        spectrum_features(loaded, inf)
    negative = good.copy()
    negative[0, 0, 0] = -0.5  # as translation refuses it: the same check_input
    with pytest.raises(ValueError, match="spectrum 0 has intensities down to -0.5"):
        spectrum_features(loaded, negative)
    zero = np.ones((10, 8, 8), np.float32)
    zero[9] = 0.0  # in the second batch of 8: still named by its index in the whole stack
    with pytest.raises(ValueError, match="spectrum 9 has no positive, finite mean"):
        spectrum_features(loaded, zero)
