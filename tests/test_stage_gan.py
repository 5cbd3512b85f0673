"""Tests of the file-level GAN stages (selection, translation of files, the quality table)."""

import csv
import dataclasses

import numpy as np
import pytest
import torch

from exp2simgan_core.dataset import INTENSITY_RULE, spectra_for
from exp2simgan_core.gan.checkpoint import load_checkpoint, load_generator
from exp2simgan_core.gan.settings import LOSS_WEIGHT_PRESETS, GanSettings
from exp2simgan_core.gan.train import train
from exp2simgan_core.io import DataFileError, read_h5, write_h5
from exp2simgan_core.stages.gan import SELECTION_COLUMNS, select_from_run, train_from_patches
from exp2simgan_core.stages.translate import (
    QUALITY_COLUMNS,
    translate_file,
    write_translation_quality,
)
from exp2simgan_core.vocabulary import DIRECTIONS

TINY = GanSettings(
    ngf=4, n_blocks=1, ndf=4, nce_layers=(0, 4, 8, 12), num_patches=16, mlp_dim=16,
    crop_size=24, n_epochs_constant=1, n_epochs_decay=1, checkpoint_every=2,
)  # fmt: skip


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A trained tiny run, a paired file with labels (classes a, b) and a 'spectra' file."""
    root = tmp_path_factory.mktemp("pipeline")
    rng = np.random.default_rng(1)
    convolved = rng.random((4, 28, 32)).astype(np.float32)
    unconvolved = (rng.random((4, 28, 32)) * 3).astype(np.float32)
    convolved[:, :3, :5] = np.nan
    unconvolved[:, :3, :5] = np.nan
    paired = root / "test.h5"
    write_h5(
        paired,
        {"convolved": convolved, "unconvolved": unconvolved, "label": np.array([0, 1, 0, 1])},
        {"classes": ["a", "b"]},
    )
    reference = root / "reference.h5"
    write_h5(reference, {"spectra": convolved[:2]}, {})
    run = root / "run"
    train(TINY, np.nan_to_num(convolved), np.nan_to_num(unconvolved), run, progress=False)
    return root, paired, reference, run


def test_gan_settings_ignores_workflow_keys_and_names_unknown_ones():
    settings = GanSettings.from_config({"ngf": 8, "n_blocks": 6, "device": "cpu"}, 3)
    assert (settings.ngf, settings.seed) == (8, 3)
    with pytest.raises(ValueError, match=r"unknown gan key\(s\) \['ngff'\]"):
        GanSettings.from_config({"ngff": 8}, 0)


@pytest.mark.parametrize(
    ("section", "idt", "cycle", "lowpass"),
    [
        ({}, 2.0, 0.0, 0.0),
        ({"loss_weights": "authors_released"}, 1.0, 0.0, 0.0),
        ({"identity_weight": None}, 2.0, 0.0, 0.0),
        ({"identity_weight": 0, "cycle_weight": 3}, 0.0, 3.0, 0.0),
        ({"loss_weights": "authors_released", "identity_weight": 0.5}, 0.5, 0.0, 0.0),
        ({"identity_weight": 0, "lowpass_weight": 10}, 0.0, 0.0, 10.0),
    ],
)
def test_gan_settings_override_the_preset_weights_they_name(section, idt, cycle, lowpass):
    weights = GanSettings.from_config(section, 0).loss_weights
    assert (weights.idt, weights.cycle, weights.lowpass) == (idt, cycle, lowpass)
    preset = LOSS_WEIGHT_PRESETS[section.get("loss_weights", "paper_text")]
    assert (weights.gan, weights.nce, weights.aux) == (preset.gan, preset.nce, preset.aux)


@pytest.mark.parametrize("key", ["identity_weight", "cycle_weight", "lowpass_weight"])
def test_gan_settings_refuse_a_negative_weight(key):
    with pytest.raises(ValueError, match=f"gan.{key} must be >= 0"):
        GanSettings.from_config({key: -1}, 0)


@pytest.mark.parametrize("sigma", [0, 16, -1])
def test_gan_settings_refuse_a_low_pass_wider_than_the_crop(sigma):
    with pytest.raises(ValueError, match="lowpass_sigma"):
        GanSettings.from_config({"crop_size": 48, "lowpass_sigma": sigma}, 0)


def test_spectra_for_prefers_spectra_then_the_direction_domain(files):
    _, paired, reference, _ = files
    assert spectra_for(reference, "sim2exp").shape == (2, 28, 32)
    conv, unconv = spectra_for(paired, "exp2sim"), spectra_for(paired, "sim2exp")
    assert np.nanmax(conv) < 1 < np.nanmax(unconv)  # 'convolved' and 'unconvolved' respectively
    with pytest.raises(ValueError, match="direction must be one of"):
        spectra_for(paired, "both")


def test_select_from_run_selects_each_generator_by_its_own_direction(files):
    root, paired, _, run = files
    selected, table = root / "selected.pt", root / "selection.csv"
    best = select_from_run(run, paired, selected, table, max_spectra=3, seed=0, device="cpu")
    rows = _rows(table)
    assert tuple(rows[0]) == SELECTION_COLUMNS
    assert len(rows) == 2 * 4  # 4 checkpoints (iterations 2, 4, 6, 8) x 2 directions
    state = torch.load(selected, weights_only=True)
    assert "optimisers" not in state
    for direction in ("exp2sim", "sim2exp"):
        scored = [r for r in rows if r["direction"] == direction]
        winner = min(scored, key=lambda r: float(r["frechet_distance"]))
        assert [r["checkpoint"] for r in scored if r["selected"] == "True"] == [
            winner["checkpoint"]
        ]
        assert state["selected_iterations"][direction] == int(winner["iteration"])
        source = torch.load(run / "checkpoints" / winner["checkpoint"], weights_only=True)
        key = DIRECTIONS[direction].generator
        for name, tensor in source["networks"][key].items():
            torch.testing.assert_close(state["networks"][key][name], tensor, rtol=0, atol=0)
        if direction == "exp2sim":
            assert winner["checkpoint"] == best.name
        loaded = load_generator(selected, direction)  # what translation reads
        assert loaded.direction == direction


def test_translate_file_keeps_labels_and_the_mask(files):
    root, paired, _, run = files
    out = root / "translated.h5"
    translate_file(run / "checkpoints" / "iter_00000008.pt", "exp2sim", paired, out, "cpu")
    data = read_h5(out, required=("spectra", "label"))
    np.testing.assert_array_equal(data.datasets["label"], [0, 1, 0, 1])
    assert np.isnan(data.datasets["spectra"][:, :3, :5]).all()
    assert np.isfinite(data.datasets["spectra"][:, 3:]).all()
    assert (data.attrs["direction"], data.attrs["domain"]) == ("exp2sim", "unconvolved")


def test_quality_table_per_class_and_refuses_a_mismatched_translation(files):
    root, paired, reference, run = files
    translated = []
    for direction in ("exp2sim", "sim2exp"):
        translated.append(("gan", direction, root / f"t_{direction}.h5"))
        ckpt = run / "checkpoints" / "iter_00000008.pt"
        translate_file(ckpt, direction, paired, translated[-1][2], "cpu")
    table = root / "quality.csv"
    rows = write_translation_quality(paired, translated, table)
    written = _rows(table)
    assert tuple(written[0]) == QUALITY_COLUMNS
    assert [(r["model_class"], r["direction"]) for r in written] == [
        ("a", "exp2sim"), ("b", "exp2sim"), ("all", "exp2sim"),
        ("a", "sim2exp"), ("b", "sim2exp"), ("all", "sim2exp"),
    ]  # fmt: skip
    assert [r["n_spectra"] for r in rows] == [2, 2, 4, 2, 2, 4]
    assert all(np.isfinite(r["psnr_after"]) and -1 <= r["ssim_after"] <= 1 for r in rows)
    with pytest.raises(DataFileError, match="differs from the test set"):
        write_translation_quality(paired, [("gan", "exp2sim", reference)], root / "bad.csv")


def test_a_run_from_other_settings_is_set_aside_not_resumed(tmp_path):
    rng = np.random.default_rng(2)
    patches = tmp_path / "patches.h5"
    write_h5(
        patches,
        {
            "convolved": rng.random((2, 28, 32), np.float32),
            "unconvolved": rng.random((2, 28, 32), np.float32),
        },
        {"intensity": INTENSITY_RULE},
    )
    run, final, losses = tmp_path / "run", tmp_path / "final.pt", tmp_path / "losses.csv"
    train_from_patches(patches, TINY, run, final, losses, device="cpu", progress=False)
    first = sorted(p.name for p in (run / "checkpoints").iterdir())
    first_final = final.read_bytes()
    train_from_patches(patches, TINY, run, final, losses, device="cpu", progress=False)
    assert final.read_bytes() == first_final  # same settings: resumed (already complete)
    assert not (tmp_path / "run.superseded-1").exists()

    changed = dataclasses.replace(TINY, lr=2e-4)
    train_from_patches(patches, changed, run, final, losses, device="cpu", progress=False)
    aside = tmp_path / "run.superseded-1"
    assert sorted(p.name for p in (aside / "checkpoints").iterdir()) == first  # nothing lost
    assert load_checkpoint(final)["settings"]["lr"] == 2e-4  # trained afresh with the new lr
    with pytest.raises(ValueError, match=r"came from other settings or data \(lr: checkpoint"):
        train(TINY, *(read_h5(patches).datasets[k] for k in ("convolved", "unconvolved")), run,
              progress=False)  # fmt: skip
