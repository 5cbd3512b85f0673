"""Merging shards, the stratified train/test split, patch extraction and the fill rule."""

import doctest

import numpy as np
import pytest

import exp2simgan_core.dataset
from exp2simgan_core.dataset import (
    FILL_VALUE,
    INTENSITY_RULE,
    check_spectra,
    fill_masked,
    intensity_unit,
    network_input,
    normalised,
    shard_sizes,
)
from exp2simgan_core.io import DataFileError, read_h5, write_h5
from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.stages.patches import extract_patches
from exp2simgan_core.stages.simulate import import_user_spectrum, merge_shards, split_train_test

SHAPE = (12, 20)
SETTINGS = {"spectrum": {"layout": {"n_pix": 4}}}


def write_class(path, model, n, seed, shard=0, shape=SHAPE, **attrs):
    """A fake simulated file: unconvolved = a ramp identifying the row, convolved = half of it."""
    rng = np.random.default_rng(seed)
    unconv = rng.random((n, *shape)).astype(np.float32)
    unconv[:, :2, :3] = np.nan
    data = {"unconvolved": unconv, "convolved": unconv / 2, "params": rng.random((n, 6))}
    base = {"model": model, "param_names": [f"{model}{i}" for i in range(6)], "seed": 0}
    write_h5(path, data, {**base, "settings": SETTINGS, "shard": shard, **attrs})
    return data


def test_docstring_example_runs():
    assert doctest.testmod(exp2simgan_core.dataset).failed == 0


def test_fill_masked_replaces_only_nan():
    x = np.array([[1.5, np.nan], [-0.0, 3.0]], dtype=np.float64)
    out = fill_masked(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1.5, FILL_VALUE], [0.0, 3.0]])
    assert np.isnan(x[0, 1])  # input untouched


@pytest.mark.parametrize(
    ("n", "size", "expected"),
    [(25, 10, [10, 10, 5]), (20, 10, [10, 10]), (3, 10, [3]), (4, 1, [1, 1, 1, 1])],
)
def test_shard_sizes(n, size, expected):
    assert shard_sizes(n, size) == expected


def test_shard_sizes_refuses_empty():
    with pytest.raises(ValueError, match="n_total=0"):
        shard_sizes(0, 5)


def test_merge_concatenates_in_given_order_and_records_shards(tmp_path):
    parts = [
        write_class(tmp_path / f"s{i}.h5", "dimer", n, seed=i, shard=i, n_rejected_unstable=i)
        for i, n in enumerate([3, 3, 1])
    ]
    merge_shards([tmp_path / f"s{i}.h5" for i in range(3)], tmp_path / "merged.h5")
    out = read_h5(tmp_path / "merged.h5")
    for name in ("unconvolved", "convolved", "params"):
        np.testing.assert_array_equal(out.datasets[name], np.concatenate([p[name] for p in parts]))
    assert out.attrs["model"] == "dimer" and out.attrs["settings"] == SETTINGS
    assert out.attrs["shards"] == [
        {"file": f"s{i}.h5", "n": n, "shard": i, "n_rejected_unstable": i}
        for i, n in enumerate([3, 3, 1])
    ]
    assert "shard" not in out.attrs


def test_merge_refuses_shards_of_another_configuration(tmp_path):
    write_class(tmp_path / "a.h5", "dimer", 2, seed=0)
    write_class(tmp_path / "b.h5", "dimer", 2, seed=1, shard=1, seed_note="x")
    write_class(tmp_path / "c.h5", "goodenough", 2, seed=1, shard=1)
    write_class(tmp_path / "d.h5", "dimer", 2, seed=1, shard=1, shape=(12, 24))
    with pytest.raises(DataFileError, match=r"b\.h5: attribute\(s\) seed_note differ"):
        merge_shards([tmp_path / "a.h5", tmp_path / "b.h5"], tmp_path / "m.h5")
    with pytest.raises(DataFileError, match=r"c\.h5: attribute\(s\) model, param_names differ"):
        merge_shards([tmp_path / "a.h5", tmp_path / "c.h5"], tmp_path / "m.h5")
    with pytest.raises(DataFileError, match=r"d\.h5: dataset '\w+' is float32 \(2, 12, 24\)"):
        merge_shards([tmp_path / "a.h5", tmp_path / "d.h5"], tmp_path / "m.h5")
    assert not (tmp_path / "m.h5").exists()


@pytest.fixture
def two_classes(tmp_path):
    data = {
        "dimer": write_class(tmp_path / "dimer.h5", "dimer", 10, seed=1),
        "goodenough": write_class(tmp_path / "goodenough.h5", "goodenough", 7, seed=2),
    }
    return tmp_path, data


def split(tmp_path, seed=0, fraction=0.2, tag=""):
    paths = [tmp_path / "dimer.h5", tmp_path / "goodenough.h5"]
    train, test = tmp_path / f"train{tag}.h5", tmp_path / f"test{tag}.h5"
    split_train_test(paths, train, test, test_fraction=fraction, seed=seed)
    return read_h5(train), read_h5(test)


def test_split_is_stratified_complete_and_row_consistent(two_classes):
    tmp_path, data = two_classes
    train, test = split(tmp_path)
    assert train.attrs["classes"] == ["dimer", "goodenough"]
    assert train.attrs["split"] == "train" and test.attrs["split"] == "test"
    assert train.attrs["per_class"]["goodenough"]["param_names"][0] == "goodenough0"
    assert train.attrs["settings"] == SETTINGS and "model" not in train.attrs
    # round(0.2 * 10) = 2 and round(0.2 * 7) = 1 test spectra
    np.testing.assert_array_equal(np.bincount(test.datasets["label"]), [2, 1])
    np.testing.assert_array_equal(np.bincount(train.datasets["label"]), [8, 6])
    for label, model in enumerate(train.attrs["classes"]):
        rows = [f.datasets["source_index"][f.datasets["label"] == label] for f in (train, test)]
        assert sorted(np.concatenate(rows)) == list(range(len(data[model]["params"])))
        for f, idx in zip((train, test), rows, strict=True):
            mine = f.datasets["label"] == label
            for name in ("unconvolved", "convolved", "params"):
                np.testing.assert_array_equal(f.datasets[name][mine], data[model][name][idx])


def test_split_is_fixed_by_the_seed(two_classes):
    tmp_path, _ = two_classes
    a = split(tmp_path, seed=5, tag="a")[1].datasets["source_index"]
    b = split(tmp_path, seed=5, tag="b")[1].datasets["source_index"]
    others = [
        split(tmp_path, seed=s, tag=f"s{s}")[1].datasets["source_index"] for s in range(6, 10)
    ]
    np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, o) for o in others)


@pytest.mark.parametrize(("fraction", "n_test"), [(0.01, [1, 1]), (0.99, [9, 6])])
def test_split_keeps_one_spectrum_on_each_side(two_classes, fraction, n_test):
    train, test = split(two_classes[0], fraction=fraction)
    np.testing.assert_array_equal(np.bincount(test.datasets["label"]), n_test)
    assert set(train.datasets["label"]) == {0, 1}


def test_split_refuses_repeated_or_unnamed_classes(tmp_path):
    write_class(tmp_path / "a.h5", "dimer", 4, seed=0)
    write_h5(
        tmp_path / "anon.h5",
        {
            "convolved": np.zeros((2, 3, 3), np.float32),
            "unconvolved": np.zeros((2, 3, 3), np.float32),
        },
        {},
    )
    with pytest.raises(ValueError, match="repeat"):
        split_train_test([tmp_path / "a.h5"] * 2, tmp_path / "tr.h5", tmp_path / "te.h5", 0.2, 0)
    with pytest.raises(DataFileError, match=r"anon\.h5: no 'model' attribute"):
        split_train_test([tmp_path / "anon.h5"], tmp_path / "tr.h5", tmp_path / "te.h5", 0.2, 0)


def test_patches_are_aligned_filled_crops(two_classes):
    tmp_path, _ = two_classes
    split(tmp_path)
    extract_patches(tmp_path / "train.h5", tmp_path / "patches.h5", n_patches=50, size=8, seed=3)
    train = read_h5(tmp_path / "train.h5")
    patches = read_h5(tmp_path / "patches.h5")
    d = patches.datasets
    assert d["convolved"].shape == d["unconvolved"].shape == d["covered"].shape == (50, 8, 8)
    assert d["convolved"].dtype == np.float32 and d["covered"].dtype == bool
    assert not np.isnan(d["convolved"]).any() and not np.isnan(d["unconvolved"]).any()
    assert (~d["covered"]).any()  # the NaN corner of the fake spectra is hit at least once
    for k in range(50):
        i, (r, c) = d["source_index"][k], d["origin"][k]
        assert 0 <= r <= SHAPE[0] - 8 and 0 <= c <= SHAPE[1] - 8
        for name in ("convolved", "unconvolved"):
            whole = train.datasets[name][i]
            crop = whole[r : r + 8, c : c + 8]
            np.testing.assert_allclose(d[name][k], fill_masked(crop / np.nanmean(whole)), rtol=1e-6)
            np.testing.assert_array_equal(d["covered"][k], ~np.isnan(crop))
        assert d["label"][k] == train.datasets["label"][i]
    assert patches.attrs["size"] == 8 and patches.attrs["seed"] == 3
    assert patches.attrs["classes"] == ["dimer", "goodenough"]
    assert "fill_masked" in patches.attrs["fill_rule"]
    assert patches.attrs["intensity"] == INTENSITY_RULE


def test_patches_are_fixed_by_the_seed_and_checked(two_classes):
    tmp_path, _ = two_classes
    split(tmp_path)
    train = tmp_path / "train.h5"
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        extract_patches(train, tmp_path / f"{name}.h5", n_patches=20, size=4, seed=seed)
    a, b, c = (read_h5(tmp_path / f"{n}.h5").datasets["origin"] for n in "abc")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(ValueError, match=r"patch size 13 does not fit spectra of 12 x 20"):
        extract_patches(train, tmp_path / "x.h5", n_patches=2, size=13, seed=0)


def test_import_user_spectrum_stores_one_checked_spectrum(tmp_path):
    x = np.ones(SHAPE)
    x[0, 0] = 0.0
    np.save(tmp_path / "mine.npy", x)
    import_user_spectrum(tmp_path / "mine.npy", "mine", SHAPE, tmp_path / "out.h5")
    out = read_h5(tmp_path / "out.h5", required=["spectra"], trailing_shape=SHAPE)
    assert out.datasets["spectra"].shape == (1, *SHAPE)
    assert np.isnan(out.datasets["spectra"][0, 0, 0]) and out.datasets["spectra"][0, 1, 1] == 1.0
    assert out.attrs["kind"] == "user" and out.attrs["name"] == "mine"
    assert out.attrs["source"] == str((tmp_path / "mine.npy").resolve())


def test_import_user_spectrum_rebins_a_paper_layout_spectrum_and_records_it(tmp_path):
    x = np.full((240, 400), 3.0)
    x[:40, :] = 0.0  # the lowest Ei uncovered (community convention)
    np.save(tmp_path / "paper.npy", x)
    demo = Layout2D(n_pix=16)  # config/demo.yaml
    import_user_spectrum(tmp_path / "paper.npy", "paper", demo, tmp_path / "out.h5")
    out = read_h5(tmp_path / "out.h5", required=["spectra"], trailing_shape=(96, 160))
    spectrum = out.datasets["spectra"][0]
    assert np.isnan(spectrum[:16]).all()
    np.testing.assert_allclose(spectrum[16:], 3.0, rtol=1e-6)
    assert out.attrs["rebinned_from"] == [240, 400]
    assert out.attrs["rebin_source_layout"]["ei_mev"] == [25.0, 35.0, 50.0, 70.0, 100.0, 140.0]
    assert "overlap-area-weighted" in out.attrs["rebin_rule"]
    assert out.attrs["kind"] == "user" and out.attrs["name"] == "paper"
    import_user_spectrum(tmp_path / "paper.npy", "same", Layout2D(), tmp_path / "same.h5")
    assert "rebinned_from" not in read_h5(tmp_path / "same.h5").attrs


def test_intensity_unit_is_the_mean_over_covered_bins_and_normalised_divides_by_it():
    x = np.array([[[1.0, np.nan], [3.0, 2.0]], [[0.0, 4.0], [0.0, 0.0]]], np.float32)
    np.testing.assert_allclose(intensity_unit(x), [2.0, 1.0])
    y, unit = normalised(x)
    np.testing.assert_allclose(unit, [2.0, 1.0])
    np.testing.assert_allclose(y, [[[0.5, FILL_VALUE], [1.5, 1.0]], [[0.0, 4.0], [0.0, 0.0]]])
    np.testing.assert_allclose(normalised(x * 37.5)[0], y, rtol=1e-6)  # any unit, same input
    with pytest.raises(ValueError, match="spectrum 1 has no positive, finite mean"):
        intensity_unit(np.stack([x[0], np.zeros((2, 2), np.float32)]))
    with pytest.raises(ValueError, match=r"spectrum 0 has no positive, finite mean .*\(inf\)"):
        intensity_unit(np.where(x == 3.0, np.inf, x))  # e.g. an overflowed count


@pytest.mark.parametrize("scale", ["linear", "sqrt"])
def test_network_input_does_not_depend_on_the_intensity_unit(scale):
    x = np.random.default_rng(0).random((3, 4, 5)).astype(np.float32)
    np.testing.assert_allclose(
        network_input(x * 1e4, 2.0, scale), network_input(x, 2.0, scale), atol=1e-6
    )


def test_network_input_scales_by_hand():
    # mean over covered bins 2.0: normalised [0.5, 3, -0.5, NaN, 1] -> [0, peak 2] -> / peak
    x = np.array([[[1.0, 6.0, -1.0, np.nan, 2.0]]], dtype=np.float32)
    u = np.array([0.25, 1.0, 0.0, 0.0, 0.5])
    np.testing.assert_allclose(network_input(x, 2.0, "linear")[0, 0], 2 * u - 1, atol=1e-6)
    np.testing.assert_allclose(network_input(x, 2.0, "sqrt")[0, 0], 2 * np.sqrt(u) - 1, atol=1e-6)
    with pytest.raises(ValueError, match=r"scale must be one of \('linear', 'sqrt'\), got 'log'"):
        network_input(x, 2.0, "log")


def test_check_spectra_of_volumes_names_each_problem():
    volumes = np.ones((2, 6, 6, 8))
    checked = check_spectra(volumes, (6, 6, 8), "the 3D layout", dims=3)
    assert checked.dtype == np.float32 and checked.shape == volumes.shape
    cases = [
        (volumes[0], "the 3D layout expects spectra of shape \\(n, H, K, E\\), got shape"),
        (volumes[:0], r"no spectrum: an empty stack of shape \(0, 6, 6, 8\)"),
        (volumes[:, :, :, :6], "spectra are 6 x 6 x 6 bins but the 3D layout expects 6 x 6 x 8"),
        (volumes.astype(complex), "spectra must be real numbers, got dtype complex128"),
    ]
    for spectra, message in cases:
        with pytest.raises(ValueError, match=message):
            check_spectra(spectra, (6, 6, 8), "the 3D layout", dims=3)
    empty = volumes.copy()
    empty[1] = np.nan
    with pytest.raises(ValueError, match="spectrum 1 is NaN everywhere"):
        check_spectra(empty, dims=3)
