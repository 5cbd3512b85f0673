"""The headline Markdown is made from a run's tables, and the README block is replaced by it."""

import csv

import pytest

from exp2simgan_core.headline import BEGIN, END, headline_markdown, splice_readme
from exp2simgan_core.stages.applicability import ALONE_COLUMNS
from exp2simgan_core.stages.classify import ACCURACY_COLUMNS, VERDICT_COLUMNS
from exp2simgan_core.stages.translate import QUALITY_COLUMNS


def _csv(path, columns, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def tables(tmp_path):
    accuracy = _csv(tmp_path / "accuracy.csv", ACCURACY_COLUMNS, [
        {"trained_on": "convolved", "evaluated_on": "unconvolved", "n_spectra": 160,
         "accuracy": 0.6124, "ci_low": 0.535, "ci_high": 0.6849, "paper_accuracy": 0.718},
        {"trained_on": "unconvolved", "evaluated_on": "wiener", "n_spectra": 160,
         "accuracy": 0.5, "ci_low": 0.42, "ci_high": 0.58, "paper_accuracy": ""},
    ])  # fmt: skip
    verdicts = _csv(tmp_path / "verdicts.csv", VERDICT_COLUMNS, [
        {"trained_on": "unconvolved", "set": "experiment", "translation": "gan_deconvolved",
         "n_spectra": 10, "n_dimer": 1, "n_goodenough": 9, "k_dimer_mean": 0.123,
         "k_goodenough_mean": 0.876},
        {"trained_on": "unconvolved", "set": "negative_control", "translation": "raw",
         "n_spectra": 20, "n_dimer": 12, "n_goodenough": 8, "k_dimer_mean": 0.3,
         "k_goodenough_mean": 0.2},
    ])  # fmt: skip
    quality = _csv(tmp_path / "quality.csv", QUALITY_COLUMNS, [
        {"method": method, "model_class": model_class, "direction": "exp2sim", "n_spectra": 8,
         "psnr_before": 26.0, "psnr_after": psnr, "ssim_before": 0.7, "ssim_after": 0.71234,
         "change_cosine": 0.456, "change_size": 0.2, "psnr_gain_low": low,
         "psnr_gain_high": low + 0.4}
        for method, model_class, psnr, low in (("gan", "dimer", 30.0, 3.5),
                                               ("gan", "all", 25.5, -0.7),
                                               ("richardson_lucy", "all", 26.789, float("nan")))
    ])  # fmt: skip
    single = _csv(tmp_path / "single.csv", ALONE_COLUMNS, [
        {"direction": d, "set": s, "spectrum": i, "measure": "nearest_5", "distance": 1.0,
         "zone": z}
        for d in ("exp2sim", "sim2exp")
        for s, i, z in (("experiment", 0, "trustworthy"), ("negative_control", 0, "untrustworthy"),
                        ("negative_control", 1, "expert_opinion"),
                        ("negative_control", 2, "untrustworthy"))
    ])  # fmt: skip
    return accuracy, verdicts, quality, single


def test_headline_shows_the_run_beside_the_paper(tables):
    text = headline_markdown(*tables, preset="demo")
    assert "preset `demo`" in text
    assert "| convolved | unconvolved | 160 | 61.2 | 53.5-68.5 | 71.8 |" in text
    assert "| unconvolved | wiener | 160 | 50.0 | 42.0-58.0 | - |" in text
    assert "| unconvolved | gan deconvolved | 9 of 10 | [0.12 \\| 0.88] |" in text
    assert "negative_control | 8 of 20" not in text  # only the pseudo-experiment's verdicts
    gan_row = "| GAN | exp2sim | 26.00 -> 25.50 | -0.50 (-0.70 to -0.30) | 0.700 -> 0.712 | 0.46 |"
    assert gan_row in text
    assert "| Richardson-Lucy | exp2sim | 26.00 -> 26.79 | +0.79 | 0.700" in text  # no interval
    assert "30.00" not in text  # one row per method and direction: all classes
    assert "| experiment | 1 | 0 | 0 |" in text  # the Exp2Sim direction's zones only
    assert "| negative_control | 0 | 1 | 2 |" in text


def test_a_back_translated_run_names_its_generators(tables, tmp_path):
    accuracy, verdicts, quality, single = tables
    assert "back-translat" not in headline_markdown(*tables, preset="demo")
    with open(quality) as f:
        rows = list(csv.DictReader(f))
    rows.append(rows[1] | {"method": "gan_without_back_translation", "psnr_after": 25.0})
    quality = _csv(tmp_path / "quality_bt.csv", QUALITY_COLUMNS, rows)
    text = headline_markdown(accuracy, verdicts, quality, single, preset="demo")
    assert "| GAN + back-translation | exp2sim | 26.00 -> 25.50 |" in text
    assert "| GAN alone | exp2sim | 26.00 -> 25.00 |" in text
    assert "McNemar's exact p. The GAN-deconvolved spectra are those of the back-translated" in text


def test_splice_replaces_only_the_marked_block(tables, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{BEGIN}\nold numbers\n{END}\n\nrest\n")
    headline = tmp_path / "headline.md"
    headline.write_text(headline_markdown(*tables, preset="demo"))
    splice_readme(readme, headline)
    text = readme.read_text()
    assert text.startswith(f"# Title\n\n{BEGIN}\nAccuracy of the DUQ")
    assert "old numbers" not in text and text.endswith(f"{END}\n\nrest\n")
    splice_readme(readme, headline)
    assert readme.read_text() == text  # idempotent
    readme.write_text("# no markers\n")
    with pytest.raises(ValueError, match="markers"):
        splice_readme(readme, headline)
    assert readme.read_text() == "# no markers\n"
