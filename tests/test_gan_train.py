"""Tests of exp2simgan_core.gan.train and .checkpoint on tiny networks (seconds on 2 CPU cores)."""

import csv
import dataclasses
import importlib
from pathlib import Path

import numpy as np
import pytest
import torch

from exp2simgan_core.gan.checkpoint import latest_checkpoint, load_checkpoint, load_generator
from exp2simgan_core.gan.networks import translate_full
from exp2simgan_core.gan.settings import AUTHORS_RELEASED, GanSettings, GeneratorSettings
from exp2simgan_core.gan.state import set_aside_other_run
from exp2simgan_core.gan.train import (
    LOSS_COLUMNS,
    LOSS_LOG,
    data_fingerprint,
    data_scaling,
    random_crops,
    train,
)
from exp2simgan_core.gan.translate import translate_spectra
from exp2simgan_core.io import read_h5

TINY = GanSettings(
    ngf=4,
    n_blocks=1,
    ndf=4,
    nce_layers=(0, 4, 8, 12),
    num_patches=16,
    mlp_dim=16,
    crop_size=24,
    n_epochs_constant=2,
    n_epochs_decay=1,  # 3 epochs of 2 iterations = 6 iterations
    checkpoint_every=3,
)


@pytest.fixture(scope="module")
def patches():
    rng = np.random.default_rng(0)
    convolved = rng.random((2, 28, 32)).astype(np.float32)
    unconvolved = (rng.random((2, 28, 32)) * 4).astype(np.float32)
    return convolved, unconvolved


def _weights(path: Path) -> dict[str, torch.Tensor]:
    nets = load_checkpoint(path)["networks"]
    return {f"{n}.{k}": v for n, sd in nets.items() for k, v in sd.items()}


def test_training_runs_logs_and_checkpoints(patches, tmp_path):
    result = train(TINY, *patches, tmp_path, progress=False)
    assert result.completed and result.iteration == 6
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "iter_00000003.pt",
        "iter_00000006.pt",
    ]
    with (tmp_path / LOSS_LOG).open(newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == LOSS_COLUMNS
    assert [int(r[0]) for r in rows[1:]] == [1, 2, 3, 4, 5, 6]
    values = np.array([[float(x) for x in r[1:]] for r in rows[1:]])
    assert np.isfinite(values).all()
    lr = values[:, -1]
    np.testing.assert_allclose(lr, [1e-4] * 4 + [5e-5] * 2, rtol=1e-6)  # decay in epoch 3
    state = load_checkpoint(result.last_checkpoint)
    assert state["iteration"] == 6
    assert state["settings"]["ngf"] == 4
    assert state["architecture"]["generator"]["n_blocks"] == 1
    assert state["scaling"]["unconvolved_max"] == pytest.approx(float(patches[1].max()))
    assert set(state["optimisers"]) == {"g", "d", "f"}
    samples = read_h5(tmp_path / "samples" / "iter_00000006.h5").datasets
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "iter_00000003.h5",
        "iter_00000006.h5",
    ]
    n = len(patches[0])  # fewer patches than N_SAMPLES: all of them
    for name in ("convolved", "unconvolved", "exp2sim", "sim2exp"):
        assert samples[name].shape == (n, 24, 24)
    np.testing.assert_array_equal(samples["convolved"], patches[0][:, :24, :24])
    assert samples["exp2sim"].min() >= 0 and np.isfinite(samples["sim2exp"]).all()


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_resumed_run_ends_with_the_uninterrupted_weights(patches, tmp_path, precision):
    settings = dataclasses.replace(TINY, precision=precision)
    full = train(settings, *patches, tmp_path / "full", progress=False)
    killed = train(settings, *patches, tmp_path / "resumed", progress=False, stop_after=4)
    assert killed.iteration == 4 and not killed.completed
    assert latest_checkpoint(tmp_path / "resumed").name == "iter_00000003.pt"
    resumed = train(settings, *patches, tmp_path / "resumed", progress=False)
    assert resumed.completed
    scales = [load_checkpoint(r.last_checkpoint)["grad_scaler"] for r in (full, resumed)]
    assert scales[0] == scales[1]
    assert ("scale" in scales[0]) == (precision == "fp16")  # the loss scale is resumed too
    a, b = _weights(full.last_checkpoint), _weights(resumed.last_checkpoint)
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6, msg=key)
    with (tmp_path / "resumed" / LOSS_LOG).open(newline="") as f:
        iterations = [int(r[0]) for r in list(csv.reader(f))[1:]]
    assert iterations == [1, 2, 3, 4, 5, 6]  # the row of the lost iteration 4 was replaced


def test_resume_refuses_another_architecture(patches, tmp_path):
    train(TINY, *patches, tmp_path, progress=False, stop_after=3)
    wider = dataclasses.replace(TINY, ngf=8)
    with pytest.raises(ValueError, match=r"another architecture: .*generator\.ngf"):
        train(wider, *patches, tmp_path, progress=False)
    other_lr = dataclasses.replace(TINY, lr=2e-4)
    with pytest.raises(ValueError, match="lr: checkpoint"):
        train(other_lr, *patches, tmp_path, progress=False)


def test_resume_refuses_other_patches_with_the_same_maxima(patches, tmp_path):
    convolved, unconvolved = patches
    run = tmp_path / "run"
    train(TINY, convolved, unconvolved, run, progress=False, stop_after=3)
    shuffled = convolved[::-1].copy()  # same values, so the same scaling; other crops
    scaling = data_scaling(shuffled, unconvolved)
    assert scaling == data_scaling(convolved, unconvolved)
    with pytest.raises(ValueError, match="trained on other patches"):
        train(TINY, shuffled, unconvolved, run, progress=False)
    fingerprint = data_fingerprint(shuffled, unconvolved)
    assert set_aside_other_run(run, TINY, scaling, fingerprint) == tmp_path / "run.superseded-1"


def test_a_truncated_last_checkpoint_names_itself_and_the_way_to_resume(patches, tmp_path):
    run = tmp_path / "run"
    last = train(TINY, *patches, run, progress=False, stop_after=3).last_checkpoint
    last.write_bytes(last.read_bytes()[:2000])  # cut short, as by a full disk
    scaling, fingerprint = data_scaling(*patches), data_fingerprint(*patches)
    message = rf"{last.name}: not a readable .*; delete it to resume from the checkpoint before"
    with pytest.raises(ValueError, match=message):
        set_aside_other_run(run, TINY, scaling, fingerprint)
    assert run.is_dir()  # nothing set aside or deleted


def test_a_residual_run_keeps_its_generators_residual(patches, tmp_path):
    residual = dataclasses.replace(TINY, residual=True)
    result = train(residual, *patches, tmp_path, progress=False, stop_after=3)
    loaded = load_generator(result.last_checkpoint, "exp2sim")
    assert loaded.generator.settings.residual
    with pytest.raises(ValueError, match=r"another architecture: .*generator\.residual"):
        train(TINY, *patches, tmp_path, progress=False)


def test_load_generator_checks_dims_and_architecture(patches, tmp_path):
    result = train(TINY, *patches, tmp_path, progress=False, stop_after=3)
    loaded = load_generator(result.last_checkpoint, "exp2sim", dims=2)
    assert (loaded.input_domain, loaded.output_domain) == ("convolved", "unconvolved")
    x = torch.from_numpy(loaded.scaling.scale(patches[0][:1, None], loaded.input_domain))
    assert translate_full(loaded.generator, x).shape == (1, 1, 28, 32)
    with pytest.raises(ValueError, match="holds a 2D generator; a 3D one was requested"):
        load_generator(result.last_checkpoint, "sim2exp", dims=3)
    with pytest.raises(ValueError, match="n_blocks: checkpoint 1, expected 9"):
        load_generator(result.last_checkpoint, "sim2exp", expected=GeneratorSettings(ngf=4))
    with pytest.raises(ValueError, match="direction"):
        load_generator(result.last_checkpoint, "forward")
    state = torch.load(result.last_checkpoint, weights_only=True)
    del state["scaling"]["intensity"]  # as written before spectra were normalised
    older = tmp_path / "older.pt"
    torch.save(state, older)
    with pytest.raises(ValueError, match="older.pt was trained on intensities that are not norm"):
        load_generator(older, "exp2sim")


@pytest.mark.parametrize(("weight", "column"), [("cycle", "g_cyc"), ("lowpass", "g_lowpass")])
def test_an_optional_term_is_logged_and_weighted(patches, tmp_path, weight, column):
    plain = train(TINY, *patches, tmp_path / "plain", progress=False, stop_after=2)
    weighted = dataclasses.replace(
        TINY, loss_weights=dataclasses.replace(TINY.loss_weights, **{weight: 10.0})
    )
    train(weighted, *patches, tmp_path / weight, progress=False, stop_after=2)
    logs = {}
    for name in ("plain", weight):
        with (tmp_path / name / LOSS_LOG).open(newline="") as f:
            logs[name] = list(csv.DictReader(f))
    assert all(float(r[column]) == 0.0 for r in logs["plain"])  # not computed at weight 0
    first = logs[weight][0]  # same networks and crops at iteration 1: only this term differs
    assert float(first[column]) > 0
    expected = float(logs["plain"][0]["g_total"]) + 10.0 * float(first[column])
    assert float(first["g_total"]) == pytest.approx(expected, rel=1e-5)
    assert plain.iteration == 2


def test_3d_training_and_authors_weights_run(tmp_path):
    rng = np.random.default_rng(1)
    vols = rng.random((1, 24, 24, 24)).astype(np.float32)
    settings = dataclasses.replace(
        TINY, dims=3, n_epochs_constant=1, n_epochs_decay=0, loss_weights=AUTHORS_RELEASED
    )
    result = train(settings, vols, vols * 2, tmp_path, progress=False)
    assert result.completed and result.iteration == 1
    assert load_generator(result.last_checkpoint, "sim2exp", dims=3).generator.settings.dims == 3


def test_bad_inputs_are_named(patches, tmp_path):
    convolved, unconvolved = patches
    with pytest.raises(ValueError, match="convolved_patches contains NaN"):
        train(TINY, np.full_like(convolved, np.nan), unconvolved, tmp_path, progress=False)
    with pytest.raises(ValueError, match="unconvolved_patches must have shape"):
        train(TINY, convolved, unconvolved[0], tmp_path, progress=False)
    with pytest.raises(ValueError, match="multiple of 4"):
        train(dataclasses.replace(TINY, crop_size=22), *patches, tmp_path, progress=False)
    with pytest.raises(ValueError, match="too small"):
        train(dataclasses.replace(TINY, crop_size=20), *patches, tmp_path, progress=False)
    with pytest.raises(ValueError, match="positive maximum"):
        train(TINY, np.zeros_like(convolved), unconvolved, tmp_path, progress=False)
    overflowed = convolved.copy()
    overflowed[1, 5, 5] = np.inf
    with pytest.raises(ValueError, match=r"convolved_patches contains Inf \(patch 1\)"):
        train(TINY, overflowed, unconvolved, tmp_path, progress=False)
    with pytest.raises(ValueError, match="unconvolved_patches has negative intensities"):
        train(TINY, convolved, unconvolved - 1.0, tmp_path, progress=False)
    with pytest.raises(ValueError, match="convolved_patches holds no patches"):
        train(TINY, convolved[:0], unconvolved, tmp_path, progress=False)
    assert not any(tmp_path.iterdir())  # refused before anything was written


def test_float64_patches_train_through_a_checkpoint(patches, tmp_path):
    convolved, unconvolved = (p.astype(np.float64) for p in patches)
    result = train(dataclasses.replace(TINY, checkpoint_every=1), convolved, unconvolved,
                   tmp_path, progress=False, stop_after=1)  # fmt: skip
    assert result.last_checkpoint.name == "iter_00000001.pt"
    assert (tmp_path / "samples" / "iter_00000001.h5").exists()


def test_divergence_stops_before_saving_the_diverged_state(patches, tmp_path, monkeypatch):
    train_module = importlib.import_module(
        "exp2simgan_core.gan.train"
    )  # the package exports train()
    step, calls = train_module.train_step, []

    def diverging(*args, **kwargs):
        calls.append(len(calls) + 1)
        losses = step(*args, **kwargs)
        return {**losses, "g_nce": float("nan")} if len(calls) == 4 else losses

    monkeypatch.setattr(train_module, "train_step", diverging)
    with pytest.raises(FloatingPointError, match=r"iteration 4: g_nce = nan.*iter_00000003\.pt"):
        train(TINY, *patches, tmp_path, progress=False)
    assert [p.name for p in sorted((tmp_path / "checkpoints").iterdir())] == ["iter_00000003.pt"]


def test_random_crops_are_seeded_and_inside_the_patch():
    patches = np.arange(2 * 6 * 8, dtype=np.float32).reshape(2, 6, 8)
    a = random_crops(patches, 3, 4, np.random.default_rng(5))
    b = random_crops(patches, 3, 4, np.random.default_rng(5))
    assert a.shape == (3, 1, 4, 4)
    np.testing.assert_array_equal(a, b)
    for crop in a[:, 0]:
        assert np.all(np.diff(crop, axis=1) == 1) and np.all(np.diff(crop, axis=0) == 8)


@pytest.mark.parametrize(
    "options",
    [{"precision": "bf16"}, {"precision": "fp16"}, {"channels_last": True}],
    ids=["bf16", "fp16", "channels_last"],
)
def test_speed_options_train_with_finite_losses(patches, tmp_path, options):
    settings = dataclasses.replace(TINY, **options)
    result = train(settings, *patches, tmp_path, progress=False)
    assert result.completed
    with (tmp_path / LOSS_LOG).open(newline="") as f:
        values = np.array([[float(x) for x in r[1:]] for r in list(csv.reader(f))[1:]])
    assert np.isfinite(values).all()
    assert load_checkpoint(result.last_checkpoint)["settings"] == {
        **load_checkpoint(result.last_checkpoint)["settings"],
        **options,
    }  # the options are recorded, so a resume with other options is refused
    with pytest.raises(ValueError, match="precision 'fp8' not in"):
        dataclasses.replace(TINY, precision="fp8").validate()


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize(
    ("device", "precision"),
    [
        pytest.param("cpu", "fp32", marks=pytest.mark.slow, id="cpu-gpu_fast"),
        pytest.param("cuda", "bf16", marks=(pytest.mark.gpu, CUDA), id="cuda-bf16"),
        pytest.param("cuda", "fp16", marks=(pytest.mark.gpu, CUDA), id="cuda-fp16"),
    ],
)
def test_compiled_training_resumes_and_translates(patches, tmp_path, device, precision):
    fast = dataclasses.replace(
        TINY, batch_size=2, n_epochs_decay=2, checkpoint_every=2,  # 4 epochs of 1 batch of 2
        precision=precision, channels_last=True, compile=True,
    )  # fmt: skip
    killed = train(fast, *patches, tmp_path, progress=False, device=device, stop_after=3)
    assert killed.iteration == 3 and latest_checkpoint(tmp_path).name == "iter_00000002.pt"
    resumed = train(fast, *patches, tmp_path, progress=False, device=device)
    assert resumed.completed and resumed.iteration == 4
    weights = _weights(resumed.last_checkpoint)
    assert not [k for k in weights if "_orig_mod" in k]  # compiled in place: plain keys
    with (tmp_path / LOSS_LOG).open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4]
    assert np.isfinite(np.array([[float(x) for x in r[1:]] for r in rows])).all()
    loaded = load_generator(resumed.last_checkpoint, "exp2sim")
    out = translate_spectra(loaded, patches[0], device=device)
    assert out.shape == patches[0].shape and np.isfinite(out).all() and out.min() >= 0
