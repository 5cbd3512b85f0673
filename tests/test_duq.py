"""DUQ classifier: kernel and centroid maths, gradient penalty, training, checkpoints, checks."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from exp2simgan_core.duq import (
    INITIAL_COUNT,
    DuqNet,
    DuqSettings,
    accuracy_with_ci,
    classify,
    gradient_penalty,
    load_duq,
    save_duq,
    train_duq,
)

TOY = DuqSettings(
    channels=(8, 16),
    pool_shape=(2, 2),
    embedding_size=16,
    centroid_size=16,
    gamma=0.99,
    lr=1e-2,
    epochs=10,
    batch_size=16,
    seed=0,
)
TOY_SHAPE = (32, 32)


def toy_spectra(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, 32, 32) noise with a bright 6 x 6 blob top-left (class 0) or bottom-right (class 1).

    A NaN strip (uncovered) runs along the top right edge of every image.
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    x = (0.3 * rng.random((n, *TOY_SHAPE))).astype(np.float32)
    for i, label in enumerate(labels):
        lo, hi = (3, 10) if label == 0 else (22, 29)
        r, c = rng.integers(lo, hi, size=2)
        x[i, r - 3 : r + 3, c - 3 : c + 3] += 1.0
    x[:, :2, 16:] = np.nan
    return x, labels


@pytest.fixture(scope="module")
def trained():
    spectra, labels = toy_spectra(64, seed=0)
    return train_duq(TOY, spectra, labels, progress=False, class_names=("left", "right"))


def test_gradient_penalty_is_two_sided():
    """d sum_c K_c / dx = a everywhere on 16 pixels: norm 4a, penalty (4a - 1)^2."""
    x = torch.rand(3, 1, 4, 4, requires_grad=True)
    for a, expected in ((0.125, 0.25), (0.25, 0.0), (0.5, 1.0), (1.0, 9.0)):
        total = x.sum(dim=(1, 2, 3))
        kernels = torch.stack([0.75 * a * total, 0.25 * a * total], dim=1)  # (3, 2)
        assert gradient_penalty(x, kernels).item() == pytest.approx(expected, abs=1e-6)


def test_gradient_penalty_trains_the_feature_extractor():
    torch.manual_seed(1)
    model = DuqNet(TOY, n_classes=2)
    x = torch.rand(4, 1, *TOY_SHAPE) * 2 - 1
    with torch.no_grad():  # centroids on the batch mean, so kernels and gradients are not tiny
        model.sums.copy_(model.embeddings(x).mean(dim=0) * model.counts[:, None])
    x.requires_grad_(True)
    penalty = gradient_penalty(x, model(x))
    penalty.backward()
    for weight in (model.features[0].weight, model.embed.weight, model.weight):
        assert weight.grad is not None
        assert torch.isfinite(weight.grad).all()
        assert weight.grad.abs().sum().item() > 0


def test_kernel_closed_form():
    """z = e_c + d in every component: K_c = exp(-d^2 / (2 l^2)), for l = 0.1, d = 0.1."""
    torch.manual_seed(2)
    model = DuqNet(TOY, n_classes=3)
    z = model.centroids()[None].repeat(2, 1, 1)  # (2, 3, centroid_size)
    z[1] += 0.1
    kernels = model.kernels(z)
    assert torch.allclose(kernels[0], torch.ones(3))
    assert torch.allclose(kernels[1], torch.full((3,), math.exp(-0.5)))


def test_centroid_update_is_the_ema_of_class_embeddings():
    torch.manual_seed(3)
    model = DuqNet(TOY, n_classes=2).eval()
    x = torch.rand(5, 1, *TOY_SHAPE) * 2 - 1
    one_hot = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    sums_before = model.sums.clone()
    z = model.embeddings(x).detach()
    model.update_centroids(x, one_hot)
    g = TOY.gamma
    expected_counts = g * INITIAL_COUNT + (1 - g) * torch.tensor([3.0, 2.0])
    assert torch.allclose(model.counts, expected_counts)
    expected_sums = g * sums_before + (1 - g) * torch.stack(
        [z[one_hot[:, c] == 1, c].sum(dim=0) for c in range(2)]
    )
    assert torch.allclose(model.sums, expected_sums, atol=1e-6)


def test_training_separates_toy_classes(trained):
    spectra, labels = toy_spectra(40, seed=1)
    out = classify(trained.classifier, spectra)
    assert np.mean(out.predicted == labels) == 1.0
    assert np.all((out.kernels >= 0) & (out.kernels <= 1))
    assert np.array_equal(out.certainty, out.kernels.max(axis=1))
    assert out.kernels.shape == (40, 2)


def test_history_and_selected_epoch(trained):
    assert [row["epoch"] for row in trained.history] == list(range(1, TOY.epochs + 1))
    best = max(row["val_accuracy"] for row in trained.history)
    assert trained.history[trained.selected_epoch - 1]["val_accuracy"] == best
    assert trained.history[-1]["train_loss"] < trained.history[0]["train_loss"]
    for row in trained.history:
        assert 0.0 <= row["val_kernel_true"] <= 1.0 and 0.0 <= row["val_kernel_other"] <= 1.0


def test_centroids_move_during_training(trained):
    torch.manual_seed(TOY.seed)
    initial = DuqNet(TOY, n_classes=2).centroids()
    assert torch.all(initial.norm(dim=1) < 0.05 * 3 * math.sqrt(TOY.centroid_size))  # std 0.05
    shift = (trained.classifier.model.centroids() - initial).norm(dim=1)
    assert torch.all(shift > 0.005)  # about 27 EMA steps at gamma 0.99 move them 0.015-0.025
    counts = trained.classifier.model.counts
    assert torch.all((counts < INITIAL_COUNT) & (counts > 0.5 * INITIAL_COUNT))


def test_training_is_deterministic(trained):
    spectra, labels = toy_spectra(64, seed=0)
    again = train_duq(TOY, spectra, labels, progress=False)
    other = train_duq(replace(TOY, seed=5), spectra, labels, progress=False)
    first = trained.classifier.model.state_dict()
    assert all(torch.equal(v, again.classifier.model.state_dict()[k]) for k, v in first.items())
    assert not torch.equal(
        first["embed.weight"], other.classifier.model.state_dict()["embed.weight"]
    )


def test_checkpoint_round_trip(trained, tmp_path: Path):
    path = tmp_path / "duq.pt"
    save_duq(path, trained)
    assert [p.name for p in tmp_path.iterdir()] == ["duq.pt"]
    loaded = load_duq(path, expected_shape=TOY_SHAPE, expected_settings=TOY)
    assert loaded.settings == TOY
    assert loaded.class_names == ("left", "right")
    assert loaded.input_shape == TOY_SHAPE
    assert loaded.peak == trained.classifier.peak
    spectra, _ = toy_spectra(6, seed=2)
    assert np.array_equal(
        classify(loaded, spectra).kernels, classify(trained.classifier, spectra).kernels
    )


def test_kernels_do_not_depend_on_the_intensity_unit(trained):
    spectra, _ = toy_spectra(6, seed=2)
    kernels = classify(trained.classifier, spectra).kernels
    for factor in (1e-3, 40.0):
        np.testing.assert_allclose(
            classify(trained.classifier, spectra * factor).kernels, kernels, atol=1e-5
        )


def test_a_classifier_of_unnormalised_intensities_is_refused(trained, tmp_path: Path):
    path = tmp_path / "duq.pt"
    save_duq(path, trained.classifier)
    state = torch.load(path, weights_only=True)
    del state["intensity"]
    torch.save(state, path)
    with pytest.raises(ValueError, match="not normalised.*retrain"):
        load_duq(path)


def test_load_refuses_other_size_architecture_and_files(trained, tmp_path: Path):
    path = tmp_path / "duq.pt"
    save_duq(path, trained.classifier)
    with pytest.raises(ValueError, match="32 x 32 spectra, not 240 x 400"):
        load_duq(path, expected_shape=(240, 400))
    with pytest.raises(ValueError, match="centroid_size: checkpoint 16, expected 32"):
        load_duq(path, expected_settings=replace(TOY, centroid_size=32))
    with pytest.raises(ValueError, match="intensity_scale: checkpoint 'sqrt', expected 'linear'"):
        load_duq(path, expected_settings=replace(TOY, intensity_scale="linear"))
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(ValueError, match=r"notes\.txt: not a readable DUQ checkpoint \(not a"):
        load_duq(text)
    gan = tmp_path / "gan.pt"
    torch.save({"networks": {}, "iteration": 3}, gan)
    with pytest.raises(ValueError, match=r"not a DUQ checkpoint.*iteration"):
        load_duq(gan)


def test_classify_refuses_bad_spectra(trained):
    spectra, _ = toy_spectra(4, seed=3)
    with pytest.raises(ValueError, match=r"\(n, rows, cols\)"):
        classify(trained.classifier, spectra[0])
    with pytest.raises(ValueError, match="16 x 16 pixels .* expects 32 x 32"):
        classify(trained.classifier, spectra[:, :16, :16])
    empty = spectra.copy()
    empty[1] = np.nan
    with pytest.raises(ValueError, match="spectrum 1 is NaN everywhere"):
        classify(trained.classifier, empty)
    infinite = spectra.copy()
    infinite[2, 5, 5] = np.inf
    with pytest.raises(ValueError, match="spectrum 2 contains Inf"):
        classify(trained.classifier, infinite)


def test_train_refuses_bad_labels():
    spectra, labels = toy_spectra(8, seed=4)
    with pytest.raises(ValueError, match="labels must be integers"):
        train_duq(TOY, spectra, labels.astype(float), progress=False)
    with pytest.raises(ValueError, match="at least 2 classes"):
        train_duq(TOY, spectra, np.zeros(8, dtype=int), progress=False)
    with pytest.raises(ValueError, match="class 1 has 1 training spectra"):
        train_duq(TOY, spectra, np.array([0] * 7 + [1]), progress=False)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"gamma": 1.0}, "gamma"),
        ({"length_scale": 0.0}, "length_scale"),
        ({"channels": ()}, "channels"),
        ({"pool_shape": (2,)}, "pool_shape"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"gradient_penalty": -1.0}, "gradient_penalty"),
        ({"batch_size": 0}, "batch_size"),
        ({"intensity_scale": "log"}, "intensity_scale"),
    ],
)
def test_settings_validation_names_the_field(change, field):
    with pytest.raises(ValueError, match=f"DuqSettings.{field} "):
        replace(TOY, **change).validate()


def test_wilson_interval_reference_values():
    acc, low, high = accuracy_with_ci(np.array([True] * 8 + [False] * 2))
    assert (acc, low, high) == pytest.approx((0.8, 0.4902, 0.9433), abs=1e-4)
    acc, low, high = accuracy_with_ci(np.ones(10, dtype=bool))
    assert (acc, low, high) == pytest.approx((1.0, 0.7225, 1.0), abs=1e-4)
    with pytest.raises(ValueError, match="non-empty 1D boolean"):
        accuracy_with_ci(np.array([], dtype=bool))
