"""Tests of exp2simgan_core.stages.applicability: distance files, zones per set size, verdicts."""

import csv
import json

import numpy as np
import pytest

from exp2simgan_core.applicability import ZONES, ApplicabilitySettings, read_distances
from exp2simgan_core.gan.settings import GanSettings
from exp2simgan_core.gan.train import train
from exp2simgan_core.io import DataFileError, write_h5
from exp2simgan_core.stages.applicability import (
    ALONE_COLUMNS,
    SUMMARY_COLUMNS,
    set_spectra,
    user_verdict,
    write_applicability,
)
from exp2simgan_core.vocabulary import DIRECTIONS as VOCABULARY_DIRECTIONS

TINY_GAN = GanSettings(
    ngf=4, n_blocks=1, ndf=4, nce_layers=(0, 4, 8, 12), num_patches=16, mlp_dim=16,
    crop_size=24, n_epochs_constant=1, n_epochs_decay=1, checkpoint_every=2,
)  # fmt: skip
SETTINGS = ApplicabilitySettings(n_repeats=20, n_points=4, seed=1, k_nearest=3)
SHAPE = (28, 32)
DIRECTIONS = tuple(VOCABULARY_DIRECTIONS)
SET_NAMES = ("train", "test_convolved", "test_unconvolved", "digits", "photos", "user_one")


def _noise(n: int, scale: float, seed: int) -> np.ndarray:
    return (scale * np.random.default_rng(seed).random((n, *SHAPE))).astype(np.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny GAN trained on noise; train/test pairs of the same noise; two far sets unlike it:
    'digits' a bright square on black, 'photos' a smooth ramp with a dark half; the GAN's
    instance normalisation removes overall brightness, so they differ in structure."""
    root = tmp_path_factory.mktemp("applicability")
    train_data = {"convolved": _noise(10, 1.0, 0), "unconvolved": _noise(10, 3.0, 1)}
    test_data = {"convolved": _noise(6, 1.0, 2), "unconvolved": _noise(6, 3.0, 3)}
    test_data["convolved"][:, :2, :3] = np.nan  # uncovered corner
    paths = {name: root / f"{name}.h5" for name in ("train", "test", "digits", "photos", "one")}
    for name, data in (("train", train_data), ("test", test_data)):
        write_h5(paths[name], {**data, "label": np.arange(len(data["convolved"])) % 2}, {})
    digits = np.zeros((5, *SHAPE), np.float32)
    digits[:, 4:20, 6:22] = 30.0
    photos = np.broadcast_to(np.linspace(0, 20, SHAPE[1], dtype=np.float32), (5, *SHAPE)).copy()
    photos[:, : SHAPE[0] // 2] = 0.0
    write_h5(paths["digits"], {"spectra": digits}, {})
    write_h5(paths["photos"], {"spectra": photos}, {})
    write_h5(paths["one"], {"spectra": test_data["convolved"][:1]}, {})  # a set of one spectrum
    result = train(TINY_GAN, train_data["convolved"], train_data["unconvolved"], root / "run",
                   progress=False)  # fmt: skip
    return root, paths, result.last_checkpoint


def _sources(paths, drop=()) -> dict:
    sources = {
        "train": (paths["train"], "convolved"),
        "test_convolved": (paths["test"], "convolved"),
        "test_unconvolved": (paths["test"], "unconvolved"),
        "digits": (paths["digits"], None),
        "photos": (paths["photos"], None),
        "user_one": (paths["one"], None),
    }
    return {k: v for k, v in sources.items() if k not in drop}


def _write(root, paths, checkpoint, tag: str, drop=()):
    outs = {d: root / tag / f"{d}.h5" for d in DIRECTIONS}
    table, zones = root / tag / "applicability.csv", root / tag / "zones.json"
    rows = write_applicability(
        checkpoint, paths["train"], _sources(paths, drop), SETTINGS, outs, table, zones
    )
    return rows, outs, table, zones


@pytest.fixture(scope="module")
def written(files):
    root, paths, checkpoint = files
    return _write(root, paths, checkpoint, "first")


def test_set_spectra_reads_the_named_dataset_or_spectra(files):
    _, paths, _ = files
    sets = set_spectra({"a": (paths["test"], "unconvolved"), "b": (paths["digits"], None)})
    assert sets["a"].shape == (6, *SHAPE) and sets["a"].max() > 1.0  # the 3x brighter domain
    assert sets["b"].max() == 30.0
    with pytest.raises(DataFileError, match=r"digits\.h5: missing dataset\(s\) convolved"):
        set_spectra({"c": (paths["digits"], "convolved")})


def test_one_distance_file_per_direction_with_zones(written):
    _, outs, _, _ = written
    for direction, path in outs.items():
        record = read_distances(path)
        assert record.direction == direction
        assert tuple(record.distances) == SET_NAMES
        assert all(d.shape == (20,) and np.isfinite(d).all() for d in record.distances.values())
        assert all(d.min() >= 0 for d in record.distances.values())
        assert record.settings == SETTINGS
        assert record.zones is not None and record.zones.trust_max <= record.zones.untrust_min
        assert record.zones.derivation["held_out_sets"] == [
            f"{'test_convolved' if direction == 'exp2sim' else 'test_unconvolved'} (4 at a time)"
        ]
        assert record.zones.derivation["out_of_domain_sets"] == [
            "digits (4 at a time)",
            "photos (4 at a time)",
        ]


def test_far_sets_lie_farther_than_the_held_out_set(written):
    _, outs, _, _ = written
    for direction, held_out in (("exp2sim", "test_convolved"), ("sim2exp", "test_unconvolved")):
        distances = read_distances(outs[direction]).distances
        for far in ("digits", "photos"):
            assert distances[far].mean() > 2 * distances[held_out].mean(), (direction, far)


def test_summary_table_and_zones_per_set_size(written):
    rows, _, table, zones_json = written
    with open(table, newline="") as f:
        written_rows = list(csv.DictReader(f))
    assert tuple(written_rows[0]) == SUMMARY_COLUMNS
    assert len(written_rows) == len(rows) == 2 * 6
    assert [r["direction"] for r in written_rows] == ["exp2sim"] * 6 + ["sim2exp"] * 6
    assert all(r["zone"] in ZONES for r in written_rows)
    sizes = {r["set"]: int(r["n_spectra"]) for r in written_rows}
    assert sizes == {"train": 10, "test_convolved": 6, "test_unconvolved": 6, "digits": 5,
                     "photos": 5, "user_one": 1}  # fmt: skip
    zones = json.loads(zones_json.read_text())
    assert sorted(zones) == sorted(DIRECTIONS)
    for direction in DIRECTIONS:
        assert sorted(zones[direction]) == ["sets_of_1", "sets_of_4"]  # user_one and the rest
        one, four = zones[direction]["sets_of_1"], zones[direction]["sets_of_4"]
        assert one["held_out_sets"][0].endswith("(each spectrum, nearest_3)")
        assert one["measure"] == "nearest_3" and "measure" not in four
        # single spectra: one nearest-neighbour distance per held-out (6) and far (5 + 5)
        # spectrum; full draws: the pooled repeats (20)
        assert (one["n_held_out"], one["n_out_of_domain"]) == (6, 10)
        assert (four["n_held_out"], four["n_out_of_domain"]) == (20, 40)
        stored = read_distances(written[1][direction]).zones
        assert stored.trust_max == four["trust_max"]  # the file keeps the full draws' zones
    for row in rows:  # each set is zoned with the thresholds and the measure of its own size
        size = "sets_of_1" if row["set"] == "user_one" else "sets_of_4"
        assert row["measure"] == ("nearest_3" if row["set"] == "user_one" else "sinkhorn")
        z = zones[row["direction"]][size]
        expected = (
            ZONES[0] if row["mean"] <= z["trust_max"]
            else ZONES[1] if row["mean"] < z["untrust_min"] else ZONES[2]
        )  # fmt: skip
        assert row["zone"] == expected, row
    far = [r for r in rows if r["set"] in ("digits", "photos")]
    assert all(r["zone"] == "untrustworthy" for r in far)


def test_each_spectrum_of_a_set_rated_alone_with_the_single_spectrum_zones(files, written):
    root, paths, checkpoint = files
    outs = {d: root / "alone" / f"{d}.h5" for d in DIRECTIONS}
    table, zones_json = root / "alone" / "applicability.csv", root / "alone" / "zones.json"
    alone_csv = root / "alone" / "single.csv"
    rows = write_applicability(
        checkpoint, paths["train"], _sources(paths), SETTINGS, outs, table, zones_json,
        alone=("test_convolved", "digits"), alone_csv=alone_csv,
    )  # fmt: skip
    assert rows == written[0]  # the whole sets are measured as without it
    for direction in DIRECTIONS:  # and the distance files hold only the whole sets
        assert tuple(read_distances(outs[direction]).distances) == SET_NAMES
    with open(alone_csv, newline="") as f:
        single = list(csv.DictReader(f))
    assert tuple(single[0]) == ALONE_COLUMNS
    expected = [(d, s, str(i)) for d in DIRECTIONS for s, n in (("test_convolved", 6),
                ("digits", 5)) for i in range(n)]  # fmt: skip
    assert [(r["direction"], r["set"], r["spectrum"]) for r in single] == expected
    zones = json.loads(zones_json.read_text())
    for row in single:
        z, distance = zones[row["direction"]]["sets_of_1"], float(row["distance"])
        assert row["measure"] == "nearest_3"
        # the table rounds to 6 digits; a far spectrum may be the quantile that set untrust_min
        at_threshold = any(
            np.isclose(distance, z[t], rtol=1e-5) for t in ("trust_max", "untrust_min")
        )
        expected_zone = (
            ZONES[0]
            if distance <= z["trust_max"]
            else ZONES[1]
            if distance < z["untrust_min"]
            else ZONES[2]
        )
        assert at_threshold or row["zone"] == expected_zone, row
    for direction in DIRECTIONS:
        near = [float(r["distance"]) for r in single if r["set"] == "test_convolved"
                and r["direction"] == direction]  # fmt: skip
        far = [float(r["distance"]) for r in single if r["set"] == "digits"
               and r["direction"] == direction]  # fmt: skip
        assert max(near) < min(far), direction
    with pytest.raises(ValueError, match="one spectrum at a time"):
        write_applicability(
            checkpoint, paths["train"], _sources(paths), SETTINGS, outs, table, zones_json,
            alone=("absent",), alone_csv=alone_csv,
        )  # fmt: skip


def test_write_applicability_is_deterministic(files, written):
    root, paths, checkpoint = files
    rows, outs, _, zones_json = _write(root, paths, checkpoint, "second")
    assert rows == written[0]
    for direction in DIRECTIONS:
        first, again = read_distances(written[1][direction]), read_distances(outs[direction])
        for name, values in first.distances.items():
            np.testing.assert_array_equal(values, again.distances[name])
    assert zones_json.read_text() == written[3].read_text()


@pytest.mark.parametrize(
    ("drop", "named"),
    [(("test_convolved",), "test_convolved"), (("test_unconvolved",), "test_unconvolved"),
     (("photos",), "photos"), (("digits", "test_unconvolved"), "digits")],
)  # fmt: skip
def test_missing_calibration_sets_are_named(files, drop, named):
    root, paths, checkpoint = files
    with pytest.raises(ValueError, match=rf"the applicability sets lack \[.*'{named}'.*\]"):
        _write(root, paths, checkpoint, f"missing_{named}", drop)
    assert not list((root / f"missing_{named}").glob("*.h5"))
    assert not (root / f"missing_{named}" / "applicability.csv").exists()


def test_user_verdict_zones_calibrated_for_the_user_size(files):
    _, paths, checkpoint = files
    held_out, far = paths["test"], [paths["digits"], paths["photos"]]
    near = np.random.default_rng(9).random((1, *SHAPE)).astype(np.float32)
    result = user_verdict(checkpoint, paths["train"], held_out, far, near, SETTINGS)
    assert result["zone"] == "trustworthy"  # drawn like the training spectra
    assert (result["direction"], result["n_spectra"], result["measure"]) == (
        "exp2sim", 1, "nearest_3"
    )  # fmt: skip
    thresholds = result["thresholds"]
    assert thresholds["trust_max"] <= thresholds["untrust_min"]
    assert thresholds["held_out_sets"] == ["held_out (each spectrum, nearest_3)"]
    assert thresholds["out_of_domain_sets"] == [
        "digits (each spectrum, nearest_3)",
        "photos (each spectrum, nearest_3)",
    ]
    square = np.zeros((1, *SHAPE), np.float32)
    square[:, 8:24, 10:26] = 5.0  # like the 'digits' set, shifted
    far_result = user_verdict(checkpoint, paths["train"], held_out, far, square, SETTINGS)
    assert far_result["zone"] != "trustworthy"
    assert far_result["distance"] > result["distance"]
    ramp = np.broadcast_to(np.linspace(0, 20, SHAPE[1], dtype=np.float32), (1, *SHAPE)).copy()
    ramp[:, : SHAPE[0] // 2] = 0.0  # one of the 'photos' spectra
    ramp_result = user_verdict(checkpoint, paths["train"], held_out, far, ramp, SETTINGS)
    assert ramp_result["zone"] == "untrustworthy", ramp_result
    assert far_result["thresholds"] == thresholds  # same size, same calibration
    again = user_verdict(checkpoint, paths["train"], held_out, far, near, SETTINGS)
    assert again == result


def test_user_verdict_needs_a_far_set_and_a_held_out_domain(files):
    _, paths, checkpoint = files
    spectra = np.ones((1, *SHAPE), np.float32)
    with pytest.raises(DataFileError, match="at least one far-away set"):
        user_verdict(checkpoint, paths["train"], paths["test"], [], spectra, SETTINGS)
    far = [paths["photos"]]
    with pytest.raises(DataFileError, match=r"digits\.h5: missing dataset\(s\) unconvolved"):
        user_verdict(checkpoint, paths["train"], paths["digits"], far, spectra, SETTINGS, "sim2exp")
