"""The exp2simgan command line (simulate)."""

import subprocess
import sys

import numpy as np

from exp2simgan_core.cli import main
from exp2simgan_core.io import read_h5

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
