"""The exp2simgan command line (simulate, translate)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from exp2simgan_core.cli import main
from exp2simgan_core.gan.settings import GanSettings
from exp2simgan_core.gan.train import train
from exp2simgan_core.io import read_h5, write_h5
from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.rebin import rebin_image
from exp2simgan_core.user_spectra import PAPER_LAYOUT

BEST = "-11.39,1.50,-1.35,1.50,0.88,0.074"


def test_simulate_writes_a_spectrum(tmp_path, capsys):
    out = tmp_path / "x.h5"
    code = main(["simulate", "--model", "goodenough", f"--params={BEST}", "--kind", "unconvolved",
                 "--out", str(out), "--n-pix", "6", "--oversample", "1"])  # fmt: skip
    assert code == 0
    data = read_h5(out, required=["spectra", "params"])
    assert data.datasets["spectra"].shape == (1, 36, 60)
    np.testing.assert_allclose(data.datasets["params"][0], [float(x) for x in BEST.split(",")])
    assert data.attrs["model"] == "goodenough" and data.attrs["kind"] == "unconvolved"
    assert data.attrs["settings"]["spectrum"]["unconvolved"] == "bin_centre"  # the paper's
    assert "wrote" in capsys.readouterr().out
    integrated = tmp_path / "integrated.h5"
    code = main(["simulate", "--model", "goodenough", f"--params={BEST}", "--kind", "unconvolved",
                 "--out", str(integrated), "--n-pix", "6", "--oversample", "1",
                 "--unconvolved", "bin_integrated"])  # fmt: skip
    assert code == 0
    other = read_h5(integrated, required=["spectra"])
    assert other.attrs["settings"]["spectrum"]["unconvolved"] == "bin_integrated"
    assert not np.allclose(other.datasets["spectra"], data.datasets["spectra"], equal_nan=True)


def test_simulating_on_the_cpu_does_not_import_torch(tmp_path):
    """Both kinds, drawn and given exchanges: the spin waves go through numpy's LAPACK, so the
    command does not pay torch's import (about a second)."""
    script = f"""
import sys
from exp2simgan_core.cli import main
common = ["simulate", "--model", "goodenough", "--n-pix", "4", "--oversample", "1"]
common += ["--out", sys.argv[1]]
assert main([*common, "--kind", "unconvolved", "--params={BEST}"]) == 0
assert main([*common, "--kind", "convolved"]) == 0
assert "torch" not in sys.modules, "torch was imported"
"""
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "x.h5")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_simulate_volume(tmp_path):
    out = tmp_path / "v.h5"
    code = main(["simulate", "--model", "dimer", "--layout", "3d", "--n-pix", "6", "--ei", "70",
                 "--chopper-hz", "250", "--out", str(out), "--oversample", "1"])  # fmt: skip
    assert code == 0
    assert read_h5(out, required=["spectra"]).datasets["spectra"].shape == (1, 6, 6, 60)


def test_bad_input_exits_nonzero_with_a_message(tmp_path, capsys):
    out = tmp_path / "x.h5"
    assert main(["simulate", "--model", "goodenough", "--params=1,2", "--out", str(out)]) == 2
    assert "takes 6 parameters" in capsys.readouterr().err
    assert main(["simulate", "--model", "dimer", "--layout", "3d", "--ei", "5000",
                 "--out", str(out)]) == 2  # fmt: skip
    assert "ei_mev=5000" in capsys.readouterr().err
    assert main(["simulate", "--model", "dimer", "--n-pix", "0", "--out", str(out)]) == 2
    assert "n_pix=0 must be >= 2" in capsys.readouterr().err  # not the default 40 in its place
    assert main(["simulate", "--model", "dimer", "--ei", "50", "--out", str(out)]) == 2
    assert "add --layout 3d" in capsys.readouterr().err  # not silently ignored in 2D
    assert not out.exists()


def test_version_names_the_release_and_the_commit(capsys):
    from exp2simgan_core import __version__
    from exp2simgan_core.version import REPO_ROOT, code_version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"exp2simgan {code_version()}\n"
    head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    if not head:  # not a git checkout (an installed copy): the release alone
        assert code_version() == __version__
        return
    dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "diff", "--quiet", "HEAD"],
                           check=False).returncode != 0  # fmt: skip
    assert code_version() == f"{__version__}+g{head}" + (".dirty" if dirty else "")


def test_console_entry_point_rejects_unknown_model(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "exp2simgan_core.cli", "simulate", "--model", "pcsmo",
         "--out", str(tmp_path / "x.h5")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "invalid choice: 'pcsmo'" in proc.stderr
    assert "Traceback" not in proc.stderr


TINY_GAN = GanSettings(
    ngf=4, n_blocks=1, ndf=4, nce_layers=(0, 4, 8, 12), num_patches=16, mlp_dim=16,
    crop_size=24, n_epochs_constant=1, n_epochs_decay=1, checkpoint_every=2,
)  # fmt: skip


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    rng = np.random.default_rng(0)
    convolved = rng.random((2, 28, 32)).astype(np.float32)
    unconvolved = (rng.random((2, 28, 32)) * 4).astype(np.float32)
    result = train(TINY_GAN, convolved, unconvolved, tmp_path_factory.mktemp("gan"), progress=False)
    return result.last_checkpoint


def test_translate_round_trip_of_a_project_file(tmp_path, checkpoint, capsys):
    x = np.random.default_rng(1).random((2, 30, 41)).astype(np.float32)
    x[:, :2, :3] = np.nan
    source, out = tmp_path / "in.h5", tmp_path / "out.h5"
    write_h5(source, {"convolved": x}, {})  # no 'spectra': exp2sim reads 'convolved'
    code = main(["translate", "--checkpoint", str(checkpoint), "--direction", "exp2sim",
                 "--in", str(source), "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    data = read_h5(out, required=["spectra"])
    y = data.datasets["spectra"]
    assert y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(y), np.isnan(x))
    assert data.attrs["direction"] == "exp2sim"
    assert data.attrs["checkpoint"] == str(checkpoint.resolve())
    assert data.attrs["source"] == str(source.resolve())
    assert "wrote" in capsys.readouterr().out


def test_translate_a_community_npy_spectrum(tmp_path, checkpoint):
    x = np.random.default_rng(2).random((24, 40))
    x[:4, :6] = 0.0  # community convention: 0 = uncovered
    source, out = tmp_path / "user.npy", tmp_path / "out.h5"
    np.save(source, x)
    assert main(["translate", "--checkpoint", str(checkpoint), "--direction", "sim2exp",
                 "--in", str(source), "--out", str(out)]) == 0  # fmt: skip
    y = read_h5(out, required=["spectra"]).datasets["spectra"]
    assert y.shape == (1, 24, 40)
    assert np.isnan(y[0, :4, :6]).all() and not np.isnan(y[0, 4:, 6:]).any()


def test_translate_rebins_a_paper_layout_spectrum_into_the_run_layout(tmp_path, checkpoint):
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state["config"] = {"simulation": {"spectrum": {"layout": {"n_pix": 4, "n_ebins": 10}}}}
    recorded = tmp_path / "recorded.pt"
    torch.save(state, recorded)
    source, out = tmp_path / "paper.npy", tmp_path / "out.h5"
    np.save(source, np.random.default_rng(3).random((240, 400)) + 0.1)
    assert main(["translate", "--checkpoint", str(recorded), "--direction", "exp2sim",
                 "--in", str(source), "--out", str(out)]) == 0  # fmt: skip
    data = read_h5(out, required=["spectra"])
    assert data.datasets["spectra"].shape == (1, 24, 40)  # the run's layout, not 240 x 400
    assert data.attrs["rebinned_from"] == [240, 400]


def test_translate_bad_input_exits_2_without_output(tmp_path, checkpoint, capsys):
    out = tmp_path / "out.h5"
    volume = tmp_path / "volume.h5"
    write_h5(volume, {"spectra": np.ones((1, 8, 8, 8), np.float32)}, {})
    empty = np.full((1, 24, 40), np.nan, np.float32)
    write_h5(tmp_path / "nan.h5", {"spectra": empty}, {})
    write_h5(tmp_path / "other.h5", {"params": np.zeros((1, 6))}, {})
    cases = [
        (["--in", str(volume)], "2D generator"),
        (["--in", str(tmp_path / "nan.h5")], "spectrum 0 is NaN everywhere"),
        (["--in", str(tmp_path / "other.h5")], "needs a dataset 'spectra' or 'convolved'"),
        (["--in", str(tmp_path / "missing.npy")], "no such file"),
    ]
    for extra, message in cases:
        argv = ["translate", "--checkpoint", str(checkpoint), "--direction", "exp2sim",
                "--out", str(out), *extra]  # fmt: skip
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err
        assert not out.exists()
    argv = ["translate", "--checkpoint", str(tmp_path / "nan.h5"), "--direction", "exp2sim",
            "--in", str(volume), "--out", str(out)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "nan.h5: not a readable Exp2SimGAN checkpoint" in err and err.count("\n") == 1
    assert not out.exists()


DUQ_SHAPE = (24, 40)


def _duq_spectra(n: int, seed: int) -> np.ndarray:
    """(n, 24, 40) noise with a bright block top-left (even index) or bottom-right (odd)."""
    x = 0.2 * np.random.default_rng(seed).random((n, *DUQ_SHAPE))
    for i in range(n):
        r, c = (2, 2) if i % 2 == 0 else (16, 30)
        x[i, r : r + 6, c : c + 6] += 2.0
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def duq_checkpoint(tmp_path_factory):
    from exp2simgan_core.duq import DuqSettings, save_duq, train_duq

    settings = DuqSettings(channels=(4,), pool_shape=(2, 2), embedding_size=4, centroid_size=4,
                           epochs=2, batch_size=4)  # fmt: skip
    result = train_duq(settings, _duq_spectra(12, 0), np.arange(12) % 2, progress=False,
                       class_names=("dimer", "goodenough"))  # fmt: skip
    path = tmp_path_factory.mktemp("duq") / "unconvolved.pt"
    save_duq(path, result)
    return path


def _json_out(capsys):
    import json

    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def test_classify_a_project_file_and_a_npy_spectrum(tmp_path, duq_checkpoint, capsys):
    from exp2simgan_core.duq import classify, load_duq

    spectra = _duq_spectra(3, 1)
    source = tmp_path / "spectra.h5"
    write_h5(source, {"spectra": spectra}, {})
    assert main(["classify", "--checkpoint", str(duq_checkpoint), "--in", str(source)]) == 0
    result, _ = _json_out(capsys)
    expected = classify(load_duq(duq_checkpoint), spectra)
    assert len(result) == 3
    for row, kernels, predicted in zip(result, expected.kernels, expected.predicted, strict=True):
        assert set(row) == {"k_dimer", "k_goodenough", "predicted", "certainty"}
        k = [row["k_dimer"], row["k_goodenough"]]
        assert all(0.0 <= v <= 1.0 for v in k)
        np.testing.assert_allclose(k, kernels, rtol=1e-12)
        assert row["certainty"] == max(k)
        assert row["predicted"] == ("dimer", "goodenough")[predicted]
    npy = tmp_path / "one.npy"
    np.save(npy, spectra[1].astype(np.float64))
    assert main(["classify", "--checkpoint", str(duq_checkpoint), "--in", str(npy)]) == 0
    (single,), _ = _json_out(capsys)
    np.testing.assert_allclose([single["k_dimer"], single["k_goodenough"]], expected.kernels[1],
                               rtol=1e-5)  # fmt: skip


def test_classify_rebins_a_paper_layout_spectrum_into_the_run_layout(
    tmp_path, duq_checkpoint, capsys
):
    import torch

    from exp2simgan_core.duq import classify, load_duq

    # the run recorded its layout: 6 Ei x 4 pixels by 10 energy bins x 4 pixels = DUQ_SHAPE
    state = torch.load(duq_checkpoint, map_location="cpu", weights_only=True)
    state["config"] = {"simulation": {"spectrum": {"layout": {"n_pix": 4, "n_ebins": 10}}}}
    recorded = tmp_path / "recorded.pt"
    torch.save(state, recorded)
    coarse = _duq_spectra(2, 5)[1]
    paper = tmp_path / "paper.npy"  # about 10 x 10 pixels of 240 x 400 per coarse pixel
    fine = np.kron(coarse, np.ones((10, 10)))
    np.save(paper, fine)
    assert main(["classify", "--checkpoint", str(recorded), "--in", str(paper)]) == 0
    (row,), _ = _json_out(capsys)
    assert row["rebinned_from"] == [240, 400]
    rebinned = rebin_image(fine.astype(np.float32), PAPER_LAYOUT, Layout2D(n_pix=4, n_ebins=10))
    assert np.abs(rebinned - coarse).max() < 0.1 * np.abs(coarse).max()  # pixels nearly aligned
    expected = classify(load_duq(duq_checkpoint), rebinned[None]).kernels[0]
    np.testing.assert_allclose([row["k_dimer"], row["k_goodenough"]], expected, rtol=1e-5)
    # without the record only the checkpoint's shape is accepted
    assert main(["classify", "--checkpoint", str(duq_checkpoint), "--in", str(paper)]) == 2
    assert "shape (240, 400), expected (24, 40)" in capsys.readouterr().err


def test_classify_refuses_a_wrong_shape_and_a_gan_checkpoint(
    tmp_path, duq_checkpoint, checkpoint, capsys
):
    npy = tmp_path / "small.npy"
    np.save(npy, np.ones((10, 12)))
    assert main(["classify", "--checkpoint", str(duq_checkpoint), "--in", str(npy)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("exp2simgan classify: error: ")
    assert "shape (10, 12), expected (24, 40)" in captured.err and "Traceback" not in captured.err
    source = tmp_path / "s.h5"
    write_h5(source, {"spectra": _duq_spectra(1, 2)}, {})
    assert main(["classify", "--checkpoint", str(checkpoint), "--in", str(source)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("exp2simgan classify: error: ") and err.count("\n") == 1
    assert f"{checkpoint} is not a DUQ checkpoint" in err
    spectra = _duq_spectra(2, 3)
    spectra[1, 0, 0] = np.inf
    write_h5(source, {"spectra": spectra}, {})
    assert main(["classify", "--checkpoint", str(duq_checkpoint), "--in", str(source)]) == 2
    assert f"{source}: spectrum 1 contains Inf" in capsys.readouterr().err
    write_h5(source, {"spectra": spectra[:0]}, {})
    assert main(["classify", "--checkpoint", str(duq_checkpoint), "--in", str(source)]) == 2
    assert f"{source}: no spectrum: an empty stack" in capsys.readouterr().err


def test_device_auto_runs_and_an_unknown_or_absent_device_exits_2(
    tmp_path, checkpoint, duq_checkpoint, capsys
):
    import torch

    spectra = tmp_path / "spectra.h5"
    write_h5(spectra, {"spectra": _duq_spectra(2, 4)}, {})
    out = tmp_path / "out.h5"
    translate = ["translate", "--checkpoint", str(checkpoint), "--direction", "exp2sim",
                 "--in", str(spectra), "--out", str(out)]  # fmt: skip
    classify = ["classify", "--checkpoint", str(duq_checkpoint), "--in", str(spectra)]
    for argv in (translate, classify):
        assert main([*argv, "--device", "auto"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    out.unlink()
    for argv in (translate, classify):
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--device", "gpu"])
        assert exited.value.code == 2
        assert "invalid choice: 'gpu'" in capsys.readouterr().err
        if not torch.cuda.is_available():
            assert main([*argv, "--device", "cuda"]) == 2
            err = capsys.readouterr().err
            assert "torch finds no CUDA device" in err and "Traceback" not in err
    assert not out.exists()


def test_applicability_prints_a_verdict(tmp_path, checkpoint, capsys):
    rng = np.random.default_rng(3)
    train_h5, test_h5, far_h5 = (tmp_path / f"{n}.h5" for n in ("train", "test", "digits"))
    for path, n in ((train_h5, 6), (test_h5, 4)):
        pair = {"convolved": rng.random((n, 28, 32)), "unconvolved": 4 * rng.random((n, 28, 32))}
        write_h5(path, {k: v.astype(np.float32) for k, v in pair.items()}, {})
    far = np.zeros((4, 28, 32), np.float32)
    far[:, 4:20, 6:22] = 30.0
    write_h5(far_h5, {"spectra": far}, {})
    user = tmp_path / "user.npy"
    np.save(user, rng.random((28, 32)))
    argv = ["applicability", "--checkpoint", str(checkpoint), "--train", str(train_h5),
            "--held-out", str(test_h5), "--far", str(far_h5), "--in", str(user)]  # fmt: skip
    assert main(argv) == 0
    verdict, _ = _json_out(capsys)
    assert verdict["zone"] in ("trustworthy", "expert_opinion", "untrustworthy")
    assert (verdict["direction"], verdict["n_spectra"]) == ("exp2sim", 1)
    assert verdict["measure"] == "nearest_5"  # ApplicabilitySettings' default k
    assert verdict["thresholds"]["trust_max"] <= verdict["thresholds"]["untrust_min"]
    assert verdict["thresholds"]["out_of_domain_sets"] == ["digits (each spectrum, nearest_5)"]
    own = tmp_path / "own.yaml"
    own.write_text("applicability:\n  k_nearest: 3\n")
    assert main([*argv, "--configfile", str(own)]) == 0  # the run's settings, not the defaults
    assert _json_out(capsys)[0]["measure"] == "nearest_3"
    own.write_text("applicability:\n  k_nearst: 3\n")
    assert main([*argv, "--configfile", str(own)]) == 2
    assert "k_nearst" in capsys.readouterr().err
    held_out_without_domain = [*argv[:6], str(far_h5), *argv[7:]]  # 'spectra' only
    assert main(held_out_without_domain) == 2
    err = capsys.readouterr().err
    assert "digits.h5: missing dataset(s) convolved" in err and err.count("\n") == 1
    np.save(user, np.ones((10, 10)))
    assert main(argv) == 2
    assert "shape (10, 10), expected (28, 32)" in capsys.readouterr().err


def test_translate_never_overwrites_its_inputs_nor_writes_hdf5_under_another_name(
    tmp_path, checkpoint, capsys
):
    source = tmp_path / "in.h5"
    write_h5(source, {"spectra": _duq_spectra(1, 8)}, {})
    before = {p: p.read_bytes() for p in (source, checkpoint)}
    for out, message in (
        (source, "is an input of this command"),
        (checkpoint, "is an input of this command"),
        (tmp_path / "out.npy", "name it .h5 or .hdf5"),
    ):
        argv = ["translate", "--checkpoint", str(checkpoint), "--direction", "exp2sim",
                "--in", str(source), "--out", str(out)]  # fmt: skip
        assert main(argv) == 2
        assert message in capsys.readouterr().err
    assert {p: p.read_bytes() for p in (source, checkpoint)} == before
    assert not (tmp_path / "out.npy").exists()


def test_translate_into_an_unwritable_place_exits_2_and_writes_nothing(
    tmp_path, checkpoint, capsys
):
    source = tmp_path / "in.h5"
    write_h5(source, {"spectra": np.random.default_rng(4).random((1, 24, 40), np.float32)}, {})
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / "out.h5"  # its parent is a regular file: unwritable even for root
    argv = ["translate", "--checkpoint", str(checkpoint), "--direction", "exp2sim",
            "--in", str(source), "--out", str(out)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("exp2simgan translate: error: cannot write ") and str(out) in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "in.h5"]


def test_translate_into_a_read_only_folder_exits_2(tmp_path, checkpoint, capsys, monkeypatch):
    import os

    locked = tmp_path / "locked"
    if os.geteuid() == 0:  # root may write anywhere: the folder is denied the way os.access would
        granted = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: Path(p) != locked and granted(p, mode))
    source = tmp_path / "in.h5"
    write_h5(source, {"spectra": np.random.default_rng(4).random((1, 24, 40), np.float32)}, {})
    locked.mkdir()
    locked.chmod(0o500)
    try:
        argv = ["translate", "--checkpoint", str(checkpoint), "--direction", "exp2sim",
                "--in", str(source), "--out", str(locked / "out.h5")]  # fmt: skip
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"folder {locked} is not writable" in err and err.count("\n") == 1
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_check_config_reports_each_file(tmp_path, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: 0\nsimulation: [unclosed\n")
    demo = Path(__file__).parents[1] / "config" / "demo.yaml"
    assert main(["check-config", str(demo)]) == 0
    assert capsys.readouterr().out == f"{demo}: valid\n"
    assert main(["check-config", str(broken)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"exp2simgan check-config: error: {broken}: not valid YAML at line 3")
    assert "Traceback" not in err


def test_check_config_lays_the_files_over_each_other_as_configfile_does(tmp_path, capsys):
    spectrum = tmp_path / "mine.npy"
    np.save(spectrum, np.random.default_rng(5).random((96, 160)) + 0.1)  # the demo's layout
    mine = tmp_path / "mine.yaml"
    mine.write_text(f"user_spectra:\n  - {{name: mine, path: {spectrum}}}\n")
    demo = Path(__file__).parents[1] / "config" / "demo.yaml"
    assert main(["check-config", str(demo), str(mine)]) == 0
    assert capsys.readouterr().out == f"{demo} + {mine}: valid\n"
    assert main(["check-config", str(mine)]) == 2  # over the paper preset alone: 240 x 400
    err = capsys.readouterr().err
    assert f"{mine}: " in err and "(96, 160)" in err and "Traceback" not in err


def test_foreign_or_damaged_checkpoints_exit_2_with_the_file_named(
    tmp_path, checkpoint, duq_checkpoint, capsys
):
    import torch

    spectrum = tmp_path / "one.npy"
    np.save(spectrum, _duq_spectra(1, 6)[0])
    text, empty, truncated, other = (tmp_path / n for n in ("t.pt", "e.pt", "c.pt", "o.pt"))
    text.write_text("not a checkpoint\n")
    empty.write_bytes(b"")
    truncated.write_bytes(checkpoint.read_bytes()[:5000])
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state["architecture"]["generator"]["ngf"] *= 2  # the record no longer fits the weights
    torch.save(state, other)
    far = tmp_path / "far.h5"
    ones = np.ones((2, 24, 40), np.float32)
    write_h5(far, {"spectra": ones, "convolved": ones, "unconvolved": ones}, {})
    commands = {
        "translate": ["translate", "--direction", "exp2sim", "--in", str(spectrum),
                      "--out", str(tmp_path / "out.h5")],
        "classify": ["classify", "--in", str(spectrum)],
        "applicability": ["applicability", "--train", str(far), "--held-out", str(far),
                          "--far", str(far), "--in", str(spectrum)],
    }  # fmt: skip
    cases = [
        (text, "not a readable"), (empty, "not a readable"), (truncated, "not a readable"),
        (tmp_path / "absent.pt", "no such"),
    ]  # fmt: skip
    for name, argv in commands.items():
        for path, message in cases:
            assert main([*argv, "--checkpoint", str(path)]) == 2, (name, path)
            err = capsys.readouterr().err
            assert f"{path}: {message}" in err and "Traceback" not in err, (name, err)
    assert main([*commands["translate"], "--checkpoint", str(other)]) == 2
    err = capsys.readouterr().err
    assert "g_exp2sim weights do not fit the architecture it records" in err
    assert main([*commands["classify"], "--checkpoint", str(checkpoint)]) == 2  # a GAN's
    assert "is not a DUQ checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out.h5").exists()


def test_spectra_of_another_layout_than_the_checkpoints_run_are_refused(
    tmp_path, checkpoint, capsys
):
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    state["config"] = {"simulation": {"spectrum": {"layout": {"n_pix": 4, "n_ebins": 10}}}}
    recorded = tmp_path / "recorded.pt"  # a run of 24 x 40 spectra
    torch.save(state, recorded)
    rng = np.random.default_rng(7)
    other = tmp_path / "other.h5"  # 16 x 80: another layout
    x = rng.random((2, 16, 80)).astype(np.float32)
    write_h5(other, {"spectra": x, "convolved": x, "unconvolved": x}, {})
    out = tmp_path / "out.h5"
    assert main(["translate", "--checkpoint", str(recorded), "--direction", "exp2sim",
                 "--in", str(other), "--out", str(out)]) == 2  # fmt: skip
    assert "shape (16, 80), but the checkpoint's run used (24, 40)" in capsys.readouterr().err
    assert not out.exists()
    fits = tmp_path / "fits.h5"
    y = rng.random((3, 24, 40)).astype(np.float32)
    write_h5(fits, {"spectra": y, "convolved": y, "unconvolved": y}, {})
    base = ["applicability", "--checkpoint", str(recorded), "--in", str(fits)]
    assert main([*base, "--train", str(other), "--held-out", str(fits), "--far", str(fits)]) == 2
    assert "other.h5: spectra of shape (16, 80), but the checkpoint's run used" in (
        capsys.readouterr().err
    )
    assert main([*base, "--train", str(fits), "--held-out", str(other), "--far", str(fits)]) == 2
    assert "other.h5: spectra of shape (16, 80), the training spectra's are (24, 40)" in (
        capsys.readouterr().err
    )
