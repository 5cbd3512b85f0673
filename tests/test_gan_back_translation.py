"""Tests of back-translation: the Exp2Sim generator trained on Sim2Exp pseudo-pairs."""

import csv
import dataclasses
import shutil

import numpy as np
import pytest
import torch

from exp2simgan_core.gan.back_translation import (
    LOG_EVERY,
    BackTranslationSettings,
    pseudo_pairs,
    train_back_translation,
)
from exp2simgan_core.gan.checkpoint import load_generator
from exp2simgan_core.gan.networks import GENERATORS
from exp2simgan_core.gan.settings import GanSettings, GeneratorSettings
from exp2simgan_core.gan.train import train
from exp2simgan_core.gan.translate import translate_spectra
from exp2simgan_core.io import write_h5
from exp2simgan_core.stages.gan import back_translate_checkpoint
from exp2simgan_core.vocabulary import DIRECTIONS

TINY = GanSettings(
    ngf=4, n_blocks=1, ndf=4, nce_layers=(0, 4, 8, 12), num_patches=16, mlp_dim=16,
    crop_size=24, n_epochs_constant=1, n_epochs_decay=1, checkpoint_every=4,
)  # fmt: skip
SHAPE = (26, 30)  # not multiples of 4: pseudo-pairs are padded like translations


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny trained checkpoint (as 'selected.pt') and a training file without 'convolved'."""
    root = tmp_path_factory.mktemp("back_translation")
    rng = np.random.default_rng(2)
    unconvolved = (rng.random((4, *SHAPE)) * 3).astype(np.float32)
    convolved = rng.random((4, *SHAPE)).astype(np.float32)
    train(TINY, convolved, unconvolved, root / "run", progress=False)
    selected = root / "selected.pt"
    shutil.copy(root / "run" / "checkpoints" / "iter_00000008.pt", selected)
    unconvolved[:, :2, :3] = np.nan  # uncovered bins
    data = root / "train.h5"
    write_h5(data, {"unconvolved": unconvolved}, {})  # the true convolved are never needed
    return root, selected, data, unconvolved


def test_settings_name_a_bad_value():
    with pytest.raises(ValueError, match="iterations must be an integer >= 0, got -1"):
        BackTranslationSettings(iterations=-1)
    with pytest.raises(ValueError, match="lr must be > 0"):
        BackTranslationSettings(lr=0.0)


def test_pseudo_pairs_are_the_sim2exp_translation_and_its_source_scaled_and_padded(run):
    _, selected, _, unconvolved = run
    sim2exp = load_generator(selected, "sim2exp")
    inputs, targets = pseudo_pairs(sim2exp, unconvolved)
    assert inputs.shape == targets.shape == (4, 1, 28, 32)
    fake = translate_spectra(sim2exp, unconvolved)
    unit = np.nanmean(fake[0])
    expected = sim2exp.scaling.scale(torch.from_numpy(np.nan_to_num(fake[0] / unit)), "convolved")
    torch.testing.assert_close(inputs[0, 0, : SHAPE[0], : SHAPE[1]], expected)
    assert float(targets[0, 0, 0, 0]) == -1.0  # an uncovered bin: intensity 0
    with pytest.raises(ValueError, match="need the sim2exp generator, got exp2sim"):
        pseudo_pairs(load_generator(selected, "exp2sim"), unconvolved)


def test_training_lowers_the_error_and_is_seeded():
    """An affine map is learnt: the mean squared error falls, and a rerun gives the same weights."""
    rng = np.random.default_rng(0)
    inputs = torch.from_numpy(rng.random((6, 1, 16, 16)).astype(np.float32) * 2 - 1)
    targets = 0.5 * inputs - 0.25
    settings = BackTranslationSettings(iterations=4 * LOG_EVERY, lr=1e-3, seed=5)
    weights, errors = [], []
    for seed in (5, 5, 6):  # the seed draws the pairs; the initial weights are the same
        settings = dataclasses.replace(settings, seed=seed)
        torch.manual_seed(0)
        generator = GENERATORS["resnet"](GeneratorSettings(dims=2, ngf=4, n_blocks=1))
        with torch.no_grad():
            errors.append(float(torch.mean((generator(inputs) - targets) ** 2)))
        rows = train_back_translation(inputs, targets, generator, settings, progress=False)
        weights.append(generator.state_dict())
        with torch.no_grad():
            trained = float(torch.mean((generator(inputs) - targets) ** 2))
    assert [r[0] for r in rows] == [LOG_EVERY, 2 * LOG_EVERY, 3 * LOG_EVERY, 4 * LOG_EVERY]
    assert trained < 0.6 * errors[0], (trained, errors[0])  # instance norm: not 0
    assert not generator.training
    for name, tensor in weights[0].items():
        torch.testing.assert_close(weights[1][name], tensor, rtol=0, atol=0)
    assert any(not torch.equal(weights[2][k], t) for k, t in weights[0].items())  # another seed
    with pytest.raises(ValueError, match=r"must be the same \(n, 1, \*spatial\) stack"):
        train_back_translation(inputs, targets[:, :, :8], generator, settings, progress=False)


def test_checkpoint_replaces_only_the_exp2sim_generator(run):
    root, selected, data, _ = run
    out, losses = root / "translator.pt", root / "losses.csv"
    settings = BackTranslationSettings(iterations=2 * LOG_EVERY, seed=1)
    back_translate_checkpoint(selected, data, out, losses, settings, progress=False)
    before = torch.load(selected, weights_only=True)
    after = torch.load(out, weights_only=True)
    assert after["back_translation"]["iterations"] == 2 * LOG_EVERY
    assert after["scaling"] == before["scaling"]
    assert after["architecture"] == before["architecture"]
    for name, tensor in before["networks"][DIRECTIONS["sim2exp"].generator].items():
        torch.testing.assert_close(after["networks"][DIRECTIONS["sim2exp"].generator][name], tensor)
    key = DIRECTIONS["exp2sim"].generator
    assert any(
        not torch.equal(after["networks"][key][name], tensor)
        for name, tensor in before["networks"][key].items()
    )
    loaded = load_generator(out, "exp2sim")  # translates like any checkpoint
    assert loaded.direction == "exp2sim"
    with open(losses, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == [LOG_EVERY, 2 * LOG_EVERY]
    assert all(float(r["mse"]) > 0 for r in rows)


def test_zero_iterations_copy_the_networks_without_reading_the_data(run):
    root, selected, _, _ = run
    out = root / "copy.pt"
    unread = root / "absent.h5"
    back_translate_checkpoint(
        selected, unread, out, root / "copy.csv", BackTranslationSettings(), progress=False
    )
    before, after = torch.load(selected, weights_only=True), torch.load(out, weights_only=True)
    for network, state in before["networks"].items():
        for name, tensor in state.items():
            torch.testing.assert_close(after["networks"][network][name], tensor, rtol=0, atol=0)
    assert (root / "copy.csv").read_text().splitlines() == ["iteration,mse"]
