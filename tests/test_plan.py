"""The cost plan: work per stage from the configuration, rates from a measured record."""

import dataclasses
import math
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from exp2simgan_core import plan
from exp2simgan_core.cli import main
from exp2simgan_core.config import merged
from exp2simgan_core.plan import PLAN_COLUMNS, Throughput, load_or_measure, plan_rows, workload_key

ROOT = Path(__file__).resolve().parents[1]


def config_of(preset: str) -> dict:
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config = merged(base, yaml.safe_load((ROOT / "config" / f"{preset}.yaml").read_text()))
    validate(config, str(ROOT / "config" / "schema.yaml"))
    return config


def rates_for(config: dict, device: str = "cpu") -> Throughput:
    return Throughput(
        workload=workload_key(config), machine="test machine", device=device, date="2026-12-06",
        versions={}, simulate_pair_s={"dimer": 1.0, "goodenough": 3.0},
        simulate_volume_s={"dimer": 0.5, "goodenough": 0.5}, gan_iteration_s=0.2,
        gan3d_iteration_s=0.4, duq_spectrum_epoch_s=0.01,
    )  # fmt: skip


def test_work_per_stage_times_the_rates():
    config = config_of("demo")
    rows = {r["stage"]: r for r in plan_rows(config, rates_for(config))}
    assert all(tuple(r) == PLAN_COLUMNS for r in rows.values())
    sim = rows["simulate (2D pairs)"]  # 400 per model in shards of 50, at the models' mean rate
    assert (sim["jobs"], sim["work"]) == (16, "800 pairs")
    assert sim["cpu_hours"] == pytest.approx(800 * 2.0 / 3600)
    assert rows["simulate (reference sets)"]["work"] == "34 spectra"  # 10 + 20 + 4
    gan = rows["train_gan (2D)"]  # 4 + 4 epochs of 400 patches at batch 1
    assert gan["work"] == "3,200 iterations"
    assert gan["cpu_hours"] == pytest.approx(3200 * 0.2 / 3600) and gan["gpu_hours"] == 0.0
    duq = rows["train_duq"]  # two classifiers, 640 training spectra, 60 epochs
    assert (duq["jobs"], duq["work"]) == (2, "2 x 640 spectra x 60 epochs")
    assert duq["cpu_hours"] == pytest.approx(2 * 640 * 60 * 0.01 / 3600)
    on_gpu = {r["stage"]: r for r in plan_rows(config, rates_for(config, "cuda"))}
    assert on_gpu["train_gan (2D)"]["gpu_hours"] == pytest.approx(gan["cpu_hours"])
    assert on_gpu["train_gan (2D)"]["cpu_hours"] == 0.0
    assert on_gpu["simulate (2D pairs)"]["cpu_hours"] == sim["cpu_hours"]  # always on the CPU


def test_a_record_of_another_workload_is_refused():
    demo, smoke = config_of("demo"), config_of("smoke")
    with pytest.raises(ValueError, match="measure it again"):
        plan_rows(demo, rates_for(smoke))


def test_a_fitting_record_is_read_and_another_is_measured_again(tmp_path, monkeypatch):
    config = config_of("smoke")
    record = tmp_path / "rates.json"
    record.write_text(rates_for(config).to_json())
    monkeypatch.setattr(plan, "measure", lambda *a: pytest.fail("measured despite a record"))
    assert load_or_measure(config, record, "cpu") == rates_for(config)
    other = dataclasses.replace(rates_for(config), workload="another")
    record.write_text(other.to_json())
    monkeypatch.setattr(plan, "measure", lambda config, device, progress: rates_for(config, device))
    assert load_or_measure(config, record, "cpu") == rates_for(config)
    assert Throughput.from_json(record.read_text()) == rates_for(config)  # written back
    record.write_bytes(b"\x89HDF\r\n")  # another kind of file given as --record
    with pytest.raises(ValueError, match=r"rates\.json: not a throughput record"):
        load_or_measure(config, record, "cpu")


def test_measured_rates_of_the_smoke_preset(tmp_path, capsys):
    record = tmp_path / "rates.json"
    assert main(["plan", str(ROOT / "config" / "smoke.yaml"), "--record", str(record)]) == 0
    rates = Throughput.from_json(record.read_text())
    assert rates.workload == workload_key(config_of("smoke")) and rates.device == "cpu"
    values = [
        *rates.simulate_pair_s.values(),
        *rates.simulate_volume_s.values(),
        rates.gan_iteration_s,
        rates.gan3d_iteration_s,
        rates.duq_spectrum_epoch_s,
    ]
    assert all(math.isfinite(v) and v > 0 for v in values)  # fmt: skip
    out = capsys.readouterr().out
    assert (
        "simulate (2D pairs)" in out and "train_duq" in out and out.count("\n") == 11
    )  # 2 header lines, column names, 6 stages, total, note
