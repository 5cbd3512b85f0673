"""Tests of exp2simgan_core.gan.select on a tiny trained GAN (seconds on 2 CPU cores)."""

import numpy as np
import pytest
import pytorch_fid.inception as fid
import torch
import torchvision

from exp2simgan_core.gan.checkpoint import load_generator
from exp2simgan_core.gan.select import (
    encoder_features,
    frechet_distance,
    inception_features,
    load_inception,
    select_checkpoint,
)
from exp2simgan_core.gan.settings import GanSettings
from exp2simgan_core.gan.train import train

TINY = GanSettings(
    ngf=4, n_blocks=1, ndf=4, nce_layers=(0, 4, 8, 12), num_patches=16, mlp_dim=16,
    crop_size=24, n_epochs_constant=2, n_epochs_decay=1, checkpoint_every=2,
)  # fmt: skip
# 3 epochs of 2 iterations: checkpoints at iterations 2, 4 and 6


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    convolved = rng.random((2, 28, 32)).astype(np.float32)
    unconvolved = (rng.random((2, 28, 32)) * 4).astype(np.float32)
    return convolved, unconvolved


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data):
    out = tmp_path_factory.mktemp("gan")
    train(TINY, *data, out, progress=False)
    return out


def test_encoder_features_are_pooled_channels(run_dir):
    loaded = load_generator(run_dir / "checkpoints" / "iter_00000006.pt", "sim2exp")
    x = torch.zeros(3, 1, 20, 28)
    features = encoder_features(loaded.generator, x, layer=12)
    assert features.shape == (3, loaded.generator.layer_channels(12)) == (3, 16)
    assert features.dtype == np.float64
    np.testing.assert_allclose(features[0], features[2])  # equal inputs, equal features
    with pytest.raises(ValueError, match="outside 0..12"):
        encoder_features(loaded.generator, x)  # layer 16 does not exist with 1 residual block
    with pytest.raises(ValueError, match=r"rank 4 for a 2D generator"):
        encoder_features(loaded.generator, x[0])


def test_frechet_distance_closed_form_and_tiny_sets():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 3))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    shifted = frechet_distance(a, a + np.array([3.0, 0.0, 4.0]))  # |mean shift|^2 = 25
    assert shifted == pytest.approx(25.0, rel=1e-4)
    tiny = frechet_distance(rng.normal(size=(2, 16)), rng.normal(size=(3, 16)))  # singular cov
    assert np.isfinite(tiny) and tiny > 0
    with pytest.raises(ValueError, match="n >= 2"):
        frechet_distance(a[:1], a)


@pytest.mark.parametrize("direction", ["exp2sim", "sim2exp"])
def test_select_returns_the_argmin_with_one_row_per_checkpoint(run_dir, data, direction):
    convolved, unconvolved = data
    inputs, targets = (convolved, unconvolved) if direction == "exp2sim" else data[::-1]
    inputs = inputs.copy()
    inputs[:, :2, :3] = np.nan
    best, rows = select_checkpoint(run_dir / "checkpoints", direction, inputs, targets)
    assert [r["checkpoint"] for r in rows] == [
        "iter_00000002.pt", "iter_00000004.pt", "iter_00000006.pt",
    ]  # fmt: skip
    assert [r["iteration"] for r in rows] == [2, 4, 6]
    distances = [r["frechet_distance"] for r in rows]
    assert all(np.isfinite(d) and d >= 0 for d in distances)
    assert best.name == rows[int(np.argmin(distances))]["checkpoint"]
    assert best.parent == run_dir / "checkpoints"
    again, _ = select_checkpoint(run_dir, direction, inputs, targets)  # the run folder works too
    assert again == best


def test_select_refuses_empty_folder_and_single_spectra(tmp_path, run_dir, data):
    with pytest.raises(ValueError, match="no checkpoint files"):
        select_checkpoint(tmp_path, "exp2sim", *data)
    with pytest.raises(ValueError, match="inputs holds 1 spectra"):
        select_checkpoint(run_dir, "exp2sim", data[0][:1], data[1])
    with pytest.raises(ValueError, match="direction must be one of"):
        select_checkpoint(run_dir, "sideways", *data)


@pytest.fixture(scope="module")
def inception_weights(tmp_path_factory):
    """A file laid out as pytorch-fid's FID InceptionV3 weights, randomly initialised (the real
    file is a download that the tests must not need)."""
    built = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(fid, "load_state_dict_from_url", lambda *args, **kwargs: None)
        mp.setattr(
            torchvision.models.Inception3,
            "load_state_dict",
            lambda net, _: built.setdefault("n", net),
        )
        torch.manual_seed(0)
        fid.fid_inception_v3()
    path = tmp_path_factory.mktemp("fid") / "pt_inception.pth"
    torch.save(built["n"].state_dict(), path)
    return path


@pytest.mark.slow  # builds and runs InceptionV3 on the CPU
def test_inception_features_from_a_local_weights_file(inception_weights, run_dir, data):
    hub = torch.hub.get_dir()
    model = load_inception(inception_weights)
    assert torch.hub.get_dir() == hub  # torch.hub's cache folder is restored
    x = torch.rand(3, 1, 20, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    x[2] = x[0]
    features = inception_features(model, x)
    assert features.shape == (3, 2048) and features.dtype == np.float64
    np.testing.assert_allclose(features[2], features[0], rtol=1e-5)
    # randomly initialised weights give features of order 1e-8: compare relatively, not with
    # allclose's default absolute tolerance of 1e-8, under which any two would look equal
    assert not np.allclose(features[1], features[0], rtol=1e-3, atol=0)
    with pytest.raises(ValueError, match=r"need \(n, 1, H, W\) 2D spectra"):
        inception_features(model, x[:, :, None])

    best, rows = select_checkpoint(run_dir, "exp2sim", *data, inception=model)
    assert {r["features"] for r in rows} == {"inception"}
    distances = [r["frechet_distance"] for r in rows]
    assert (
        all(np.isfinite(distances)) and best.name == rows[int(np.argmin(distances))]["checkpoint"]
    )
    _, encoder_rows = select_checkpoint(run_dir, "exp2sim", *data)
    assert {r["features"] for r in encoder_rows} == {"encoder"}
    assert [r["frechet_distance"] for r in encoder_rows] != distances


def test_inception_weights_that_are_not_fid_weights_are_named(tmp_path, run_dir):
    hub = torch.hub.get_dir()
    with pytest.raises(ValueError, match="absent.pth not found"):
        load_inception(tmp_path / "absent.pth")
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint")
    other = run_dir / "checkpoints" / "iter_00000002.pt"  # a GAN checkpoint
    for path in (text, other):
        with pytest.raises(ValueError, match=f"{path.name} does not hold pytorch-fid's FID"):
            load_inception(path)
    assert torch.hub.get_dir() == hub


def test_non_finite_distances_stop_the_selection(run_dir, data, monkeypatch):
    import exp2simgan_core.gan.select as select

    monkeypatch.setattr(select, "frechet_distance", lambda a, b: float("nan"))
    with pytest.raises(ValueError, match=r"exp2sim: the Fréchet distance is not finite for \["):
        select_checkpoint(run_dir, "exp2sim", *data)
