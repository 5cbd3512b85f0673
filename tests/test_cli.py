"""The exp2simgan command line (simulate, translate)."""

import subprocess
import sys

import numpy as np
import pytest

from exp2simgan_core.cli import main
from exp2simgan_core.gan.train import GanSettings, train
from exp2simgan_core.io import read_h5, write_h5

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
    assert "wrote" in capsys.readouterr().out


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
    assert not out.exists()


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


def test_translate_bad_input_exits_2_without_output(tmp_path, checkpoint, capsys):
    out = tmp_path / "out.h5"
    volume = tmp_path / "volume.h5"
    write_h5(volume, {"spectra": np.ones((1, 8, 8, 8), np.float32)}, {})
    empty = np.full((1, 24, 40), np.nan, np.float32)
    write_h5(tmp_path / "nan.h5", {"spectra": empty}, {})
    write_h5(tmp_path / "other.h5", {"params": np.zeros((1, 6))}, {})
    cases = [
        (["--in", str(volume)], "2D generator"),
        (["--in", str(tmp_path / "nan.h5")], "spectrum 0 is entirely NaN"),
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
    assert "nan.h5: not a readable checkpoint file" in err and err.count("\n") == 1
    assert not out.exists()
