"""Tests of exp2simgan_core.stages.classify: far-away sets, DUQ from files, baselines, tables."""

import csv
from dataclasses import replace

import numpy as np
import pytest
import torch

from exp2simgan_core.baselines import BaselineSettings, richardson_lucy_spectra, wiener_spectra
from exp2simgan_core.duq import DuqSettings, accuracy_with_ci, classify, load_duq
from exp2simgan_core.io import read_h5, write_h5
from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.stages.classify import (
    ACCURACY_COLUMNS,
    ACCURACY_ROWS,
    CALIBRATION_COLUMNS,
    HISTORY_COLUMNS,
    KERNEL_COLUMNS,
    VERDICT_COLUMNS,
    deconvolve_baseline,
    paired_change,
    paired_text,
    train_classifier,
    write_accuracy_table,
    write_kernel_tables,
    write_ood_set,
)

LAYOUT = Layout2D(n_pix=8, n_ebins=4)  # 6 default Ei: 48 x 32 images
CLASSES = ["dimer", "goodenough"]
WIDTH_FACTOR = 1.7  # energy-width factor recorded in the files' settings (default 1.29)
TINY_DUQ = DuqSettings(
    channels=(4,), pool_shape=(2, 2), embedding_size=4, centroid_size=4, epochs=2, batch_size=4
)


def _pairs(n: int, seed: int) -> dict[str, np.ndarray]:
    """Paired spectra of LAYOUT, labels alternating 0/1: a bright blob top-left (dimer) or
    bottom-right (goodenough); unconvolved sharper and brighter; panel (Ei 0, bin 3) uncovered."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    unconvolved = 0.2 * rng.random((n, *LAYOUT.shape))
    for i, label in enumerate(labels):
        r, c = (6, 6) if label == 0 else (40, 26)
        unconvolved[i, r - 3 : r + 3, c - 3 : c + 3] += 3.0
    convolved = 0.5 * unconvolved + 0.1 * rng.random(unconvolved.shape)
    for x in (unconvolved, convolved):
        x[:, :8, 24:32] = np.nan  # panel (Ei 0, bin 3)
    return {
        "unconvolved": unconvolved.astype(np.float32),
        "convolved": convolved.astype(np.float32),
        "label": labels,
    }


def _write_pairs(path, n: int, seed: int) -> dict[str, np.ndarray]:
    data = _pairs(n, seed)
    settings = {"spectrum": {"energy_width_factor": WIDTH_FACTOR}}
    write_h5(path, data, {"classes": CLASSES, "settings": settings})
    return data


def _rows(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Train and test files and one trained classifier per domain (with their histories)."""
    root = tmp_path_factory.mktemp("evaluation")
    train, test = root / "train.h5", root / "test.h5"
    _write_pairs(train, 16, seed=0)
    data = _write_pairs(test, 8, seed=1)
    classifiers = {}
    for domain in ("unconvolved", "convolved"):
        classifiers[domain] = root / f"duq_{domain}.pt"
        train_classifier(train, domain, TINY_DUQ, classifiers[domain], root / f"{domain}.csv")
    return root, train, test, data, classifiers


def test_write_ood_set_spans_the_training_range_and_is_seeded(tmp_path):
    train = tmp_path / "train.h5"
    peak = float(np.nanmax(_write_pairs(train, 4, seed=0)["convolved"]))
    for kind in ("digits", "photos"):
        paths = [tmp_path / f"{kind}_{i}.h5" for i in range(3)]
        for path, seed in zip(paths, (5, 5, 6), strict=True):
            write_ood_set(kind, 3, LAYOUT, train, seed, path)
        first, again, other = (read_h5(p, required=["spectra"]) for p in paths)
        x = first.datasets["spectra"]
        assert x.shape == (3, *LAYOUT.shape) and x.dtype == np.float32
        assert x.min() >= 0.0 and x.max() <= peak * (1 + 1e-6)
        assert (first.attrs["kind"], first.attrs["seed"]) == (kind, 5)
        np.testing.assert_array_equal(x, again.datasets["spectra"])
        assert not np.array_equal(x, other.datasets["spectra"])
    digits = read_h5(tmp_path / "digits_0.h5").datasets["spectra"]
    assert digits.min() == 0.0  # digit background 0 -> the range's low end
    assert digits.max() == pytest.approx(peak, rel=1e-6)  # digit ink 16 -> the training maximum
    with pytest.raises(ValueError, match=r"unknown far-away set 'letters'.*\['digits', 'photos'\]"):
        write_ood_set("letters", 1, LAYOUT, train, 0, tmp_path / "letters.h5")
    assert not (tmp_path / "letters.h5").exists()


def test_duq_settings_drops_device_and_makes_tuples():
    section = {"channels": [4, 8], "pool_shape": [2, 3], "epochs": 3, "device": "cuda"}
    settings = DuqSettings.from_config(section, seed=7)
    assert settings == replace(DuqSettings(), channels=(4, 8), pool_shape=(2, 3), epochs=3, seed=7)
    assert section["device"] == "cuda"  # the caller's section is left alone
    with pytest.raises(ValueError, match="DuqSettings.epochs must be an integer >= 1, got 0"):
        DuqSettings.from_config({"epochs": 0}, seed=0)
    with pytest.raises(ValueError, match="DuqSettings.pool_shape must be two integers"):
        DuqSettings.from_config({"pool_shape": [2]}, seed=0)
    with pytest.raises(ValueError, match="DuqSettings.seed must be an integer >= 0, got -1"):
        DuqSettings.from_config({}, seed=-1)
    with pytest.raises(ValueError, match=r"unknown duq key\(s\) \['epoch'\]; allowed: \["):
        DuqSettings.from_config({"epoch": 3}, seed=0)


def test_train_classifier_writes_a_loadable_checkpoint_and_its_history(run):
    root, _, _, _, classifiers = run
    loaded = load_duq(classifiers["convolved"], expected_shape=LAYOUT.shape)
    assert loaded.class_names == tuple(CLASSES)
    assert loaded.settings.architecture() == TINY_DUQ.architecture()
    rows = _rows(root / "convolved.csv")
    assert tuple(rows[0]) == HISTORY_COLUMNS
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    selected = [int(r["epoch"]) for r in rows if r["selected"] == "True"]
    assert len(selected) == 1 and sum(r["selected"] == "False" for r in rows) == 1
    state = torch.load(classifiers["convolved"], map_location="cpu", weights_only=True)
    assert state["selected_epoch"] == selected[0]
    for row in rows:
        assert 0.0 <= float(row["val_accuracy"]) <= 1.0 and float(row["train_loss"]) > 0


def test_train_classifier_refuses_an_unknown_domain(run, tmp_path):
    _, train, _, _, _ = run
    with pytest.raises(ValueError, match=r"domain must be one of .*got 'spectra'"):
        train_classifier(train, "spectra", TINY_DUQ, tmp_path / "c.pt", tmp_path / "h.csv")
    assert list(tmp_path.iterdir()) == []


def test_deconvolve_baseline_keeps_labels_and_the_mask(run, tmp_path):
    _, _, test, data, _ = run
    for method, reference in (("richardson_lucy", richardson_lucy_spectra),
                              ("wiener", wiener_spectra)):  # fmt: skip
        out = tmp_path / f"{method}.h5"
        deconvolve_baseline(method, test, LAYOUT, out)
        result = read_h5(out, required=["spectra", "label"], trailing_shape=LAYOUT.shape)
        spectra = result.datasets["spectra"]
        np.testing.assert_array_equal(result.datasets["label"], data["label"])
        np.testing.assert_array_equal(np.isnan(spectra), np.isnan(data["convolved"]))
        expected = reference(
            data["convolved"], LAYOUT, BaselineSettings(energy_width_factor=WIDTH_FACTOR)
        )
        np.testing.assert_allclose(spectra, expected, rtol=1e-6, equal_nan=True)
        assert result.attrs["method"] == method and result.attrs["classes"] == CLASSES
        assert result.attrs["baseline"]["energy_width_factor"] == WIDTH_FACTOR  # from the file
    explicit = BaselineSettings(rl_iterations=2)
    deconvolve_baseline("richardson_lucy", test, LAYOUT, tmp_path / "rl2.h5", explicit)
    assert read_h5(tmp_path / "rl2.h5").attrs["baseline"]["rl_iterations"] == 2
    with pytest.raises(ValueError, match=r"unknown baseline 'tikhonov'"):
        deconvolve_baseline("tikhonov", test, LAYOUT, tmp_path / "t.h5")
    assert not (tmp_path / "t.h5").exists()


def _evaluated(path, spectra, labels) -> None:
    write_h5(path, {"spectra": spectra, "label": labels}, {})


def test_accuracy_table_rows_values_and_markdown(run, tmp_path):
    _, _, test, data, classifiers = run
    gan = tmp_path / "gan_deconvolved.h5"
    _evaluated(gan, data["unconvolved"], data["label"])  # a perfect deconvolution
    csv_path, md_path = tmp_path / "accuracy.csv", tmp_path / "accuracy.md"
    rows = write_accuracy_table(classifiers, test, {"gan_deconvolved": gan}, csv_path, md_path)
    written = _rows(csv_path)
    assert tuple(written[0]) == ACCURACY_COLUMNS
    pairs = [(r["trained_on"], r["evaluated_on"]) for r in written]
    # ACCURACY_ROWS order; no gan_convolved or baseline file was given
    assert pairs == [
        ("unconvolved", "unconvolved"),
        ("unconvolved", "convolved"),
        ("unconvolved", "gan_deconvolved"),
        ("convolved", "convolved"),
        ("convolved", "unconvolved"),
        ("convolved", "gan_deconvolved"),
    ]
    paper = {(t, e): p for t, e, p in ACCURACY_ROWS}
    for row, out in zip(rows, written, strict=True):
        classifier = load_duq(classifiers[row["trained_on"]])
        x = data[row["evaluated_on"]] if row["evaluated_on"] in data else data["unconvolved"]
        expected = accuracy_with_ci(classify(classifier, x).predicted == data["label"])
        assert (row["accuracy"], row["ci_low"], row["ci_high"]) == pytest.approx(expected)
        assert row["ci_low"] <= row["accuracy"] <= row["ci_high"]
        assert int(out["n_spectra"]) == 8
        assert float(out["accuracy"]) == pytest.approx(row["accuracy"], rel=1e-5)
        assert float(out["paper_accuracy"]) == paper[(row["trained_on"], row["evaluated_on"])]
    assert rows[2]["accuracy"] == rows[0]["accuracy"]  # same spectra, same classifier
    # translated rows against the raw row of the same classifier, spectrum by spectrum
    compared = {(r["trained_on"], r["evaluated_on"]): r for r in rows if "compared_with" in r}
    assert sorted(compared) == [
        ("convolved", "gan_deconvolved"),
        ("unconvolved", "gan_deconvolved"),
    ]
    for (trained_on, _), row in compared.items():
        classifier = load_duq(classifiers[trained_on])
        raw = classify(classifier, data["convolved"]).predicted == data["label"]
        after = classify(classifier, data["unconvolved"]).predicted == data["label"]
        assert row["compared_with"] == "convolved"
        assert (row["n_fixed"], row["n_broken"]) == (np.sum(after & ~raw), np.sum(raw & ~after))
        raw_row = next(
            r for r in rows if (r["trained_on"], r["evaluated_on"]) == (trained_on, "convolved")
        )
        net = row["n_fixed"] - row["n_broken"]
        assert net == pytest.approx(8 * (row["accuracy"] - raw_row["accuracy"]))

    lines = md_path.read_text().splitlines()
    assert len(lines) == 2 + len(written)
    assert lines[0].startswith("| DUQ trained on | evaluated on |")
    first = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert first[:3] == ["unconvolved", "unconvolved", "8"]
    assert first[3] == f"{100 * rows[0]['accuracy']:.1f} %"
    assert first[4] == f"{100 * rows[0]['ci_low']:.1f} % - {100 * rows[0]['ci_high']:.1f} %"
    assert first[5] == "98.9 %"
    assert first[6] == "-"  # a raw row
    gan_row = [cell.strip() for cell in lines[4].strip("|").split("|")]
    assert gan_row[6] == paired_text(rows[2])


def test_paired_change_counts_and_mcnemar_p():
    before = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], bool)
    after = np.array([1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0], bool)
    change = paired_change(before, after)
    assert (change["n_fixed"], change["n_broken"]) == (8, 1)
    assert change["p_paired"] == pytest.approx(2 * 10 / 2**9)  # P(X <= 1 or X >= 8), X ~ B(9, 1/2)
    assert paired_change(before, before) == {"n_fixed": 0, "n_broken": 0, "p_paired": 1.0}
    row = {"compared_with": "unconvolved", **change}
    assert paired_text(row) == "+8 / -1 vs unconvolved, p = 0.039"
    assert paired_text({"compared_with": ""}) == "-"


def test_accuracy_table_baseline_rows_without_a_paper_value(run, tmp_path):
    _, _, test, data, classifiers = run
    wiener = tmp_path / "wiener.h5"
    _evaluated(wiener, data["convolved"], data["label"])
    csv_path, md_path = tmp_path / "a.csv", tmp_path / "a.md"
    only = {"unconvolved": classifiers["unconvolved"]}
    rows = write_accuracy_table(only, test, {"wiener": wiener}, csv_path, md_path)
    assert [r["evaluated_on"] for r in rows] == ["unconvolved", "convolved", "wiener"]
    assert rows[2]["accuracy"] == rows[1]["accuracy"]  # the wiener file holds the convolved set
    assert _rows(csv_path)[2]["paper_accuracy"] == ""
    last = md_path.read_text().splitlines()[-1]  # no paper value; the same spectra as raw
    assert last.endswith("| - | +0 / -0 vs convolved, p = 1 |")


def test_accuracy_table_refuses_a_file_with_other_labels(run, tmp_path):
    _, _, test, data, classifiers = run
    shuffled = tmp_path / "shuffled.h5"
    _evaluated(shuffled, data["unconvolved"], data["label"][::-1].copy())
    csv_path, md_path = tmp_path / "a.csv", tmp_path / "a.md"
    with pytest.raises(ValueError, match=r"shuffled\.h5: its labels are not those of .*test\.h5"):
        write_accuracy_table(classifiers, test, {"gan_deconvolved": shuffled}, csv_path, md_path)
    assert not csv_path.exists() and not md_path.exists()


def test_kernel_tables_per_spectrum_and_calibration(run, tmp_path):
    _, _, test, data, classifiers = run
    experiment, digits, translated = (tmp_path / f"{n}.h5" for n in ("e", "d", "t"))
    write_h5(experiment, {"spectra": data["convolved"][:3]}, {})
    write_h5(digits, {"spectra": np.full((2, *LAYOUT.shape), 0.5, np.float32)}, {})
    write_h5(translated, {"spectra": data["unconvolved"][:3]}, {})
    kernels_csv, calibration_csv = tmp_path / "kernels.csv", tmp_path / "calibration.csv"
    verdicts_csv = tmp_path / "verdicts.csv"
    write_kernel_tables(
        classifiers, test, {"experiment": experiment, "digits": digits},
        {"experiment": translated}, kernels_csv, calibration_csv, verdicts_csv,
    )  # fmt: skip
    kernels = _rows(kernels_csv)
    assert tuple(kernels[0]) == KERNEL_COLUMNS
    assert len(kernels) == 2 * (3 + 2 + 3)  # per classifier: raw sets, then translations
    names = [(r["spectrum"], r["translation"]) for r in kernels[:8]]
    assert names == [
        ("experiment_0", "raw"), ("experiment_1", "raw"), ("experiment_2", "raw"),
        ("digits_0", "raw"), ("digits_1", "raw"),
        ("experiment_0", "gan_deconvolved"), ("experiment_1", "gan_deconvolved"),
        ("experiment_2", "gan_deconvolved"),
    ]  # fmt: skip
    assert [r["trained_on"] for r in kernels] == ["unconvolved"] * 8 + ["convolved"] * 8
    k = np.array([[float(r["k_dimer"]), float(r["k_goodenough"])] for r in kernels])
    assert ((k >= 0.0) & (k <= 1.0)).all()
    expected = classify(load_duq(classifiers["unconvolved"]), data["convolved"][:3]).kernels
    np.testing.assert_allclose(k[:3], expected, rtol=1e-5, atol=1e-12)  # classes in CLASS_ORDER

    verdicts = _rows(verdicts_csv)
    assert tuple(verdicts[0]) == VERDICT_COLUMNS
    assert [(r["trained_on"], r["set"], r["translation"], r["n_spectra"]) for r in verdicts] == [
        (t, s, tr, n)
        for t in ("unconvolved", "convolved")
        for s, tr, n in (("experiment", "raw", "3"), ("digits", "raw", "2"),
                         ("experiment", "gan_deconvolved", "3"))
    ]  # fmt: skip
    parts = (k[0:3], k[3:5], k[5:8], k[8:11], k[11:13], k[13:16])
    for row, part in zip(verdicts, parts, strict=True):
        assert int(row["n_goodenough"]) == int(np.sum(part[:, 1] > part[:, 0]))
        assert int(row["n_dimer"]) + int(row["n_goodenough"]) == len(part)
        assert float(row["k_goodenough_mean"]) == pytest.approx(part[:, 1].mean(), rel=1e-6)

    calibration = _rows(calibration_csv)
    assert tuple(calibration[0]) == CALIBRATION_COLUMNS
    assert [(r["trained_on"], r["set"], r["n_spectra"]) for r in calibration] == [
        ("unconvolved", "test_unconvolved", "8"), ("unconvolved", "experiment", "3"),
        ("unconvolved", "digits", "2"), ("convolved", "test_convolved", "8"),
        ("convolved", "experiment", "3"), ("convolved", "digits", "2"),
    ]  # fmt: skip
    k_max_experiment = k[:3].max(axis=1).mean()
    assert float(calibration[1]["k_max_mean"]) == pytest.approx(k_max_experiment, rel=1e-4)
    for r in calibration:
        assert 0 <= float(r["k_max_p10"]) <= float(r["k_max_p90"]) <= 1
