"""The Snakemake workflow: DAG of every preset and the cluster profile, early config errors, and a
real run of the smoke preset whose outputs are checked for content."""

import copy
import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from snakemake.utils import validate

from exp2simgan_core.config import merged, spectrum_settings
from exp2simgan_core.dataset import INTENSITY_RULE
from exp2simgan_core.io import read_h5
from exp2simgan_core.physics.models import get_model
from exp2simgan_core.simulate import REFERENCE_KINDS
from exp2simgan_core.version import code_version
from exp2simgan_core.vocabulary import CLASSES

pytestmark = (
    pytest.mark.slow
)  # every test starts snakemake: seconds for a dry run, minutes for a run
ROOT = Path(__file__).resolve().parents[1]
PRESETS = ("config", "demo", "smoke", "gpu_fast", "paper_cpu")  # every preset in config/
STAGES = {
    "simulate_shard",
    "merge_shards",
    "split_train_test",
    "simulate_reference",
    "extract_patches",
}


def snakemake(*args, workdir=None, env=None, timeout=900):
    """Run Snakemake on this repository's Snakefile from the repository root (for its profiles)."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), *args]
    if workdir is not None:
        command += ["--directory", str(workdir)]
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )


def job_counts(result: subprocess.CompletedProcess) -> dict[str, int]:
    """The 'Job stats' table of a Snakemake run or dry-run as {rule: count}."""
    lines = (result.stdout + result.stderr).splitlines()
    start = lines.index("Job stats:") + 3
    counts = {}
    for line in lines[start:]:
        rule, _, count = line.rpartition(" ")
        if not rule.strip() or not count.isdigit():
            break
        counts[rule.strip()] = int(count)
    counts.pop("total")
    return counts


def load_preset(name):
    with open(ROOT / "config" / f"{name}.yaml") as f:
        return yaml.safe_load(f)


def write_config(path, config):
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("name", PRESETS)
def test_dry_run_of_every_preset_has_every_stage(name, tmp_path):
    result = snakemake(
        "all", "-n", "--configfile", str(ROOT / "config" / f"{name}.yaml"), workdir=tmp_path
    )
    assert result.returncode == 0, result.stderr
    counts = job_counts(result)
    config = merged(load_preset("config"), load_preset(name))  # as laid over config.yaml
    sim = config["simulation"]
    n_shards = math.ceil(sim["n_per_model"] / sim["shard_size"])
    assert set(counts) >= STAGES
    assert counts["simulate_shard"] == len(CLASSES) * n_shards
    assert counts["merge_shards"] == len(CLASSES)
    assert counts["simulate_reference"] == len(REFERENCE_KINDS)
    assert counts["split_train_test"] == counts["extract_patches"] == 1
    volume = {"n_per_model": 500, "shard_size": 25, **config.get("volume", {})}
    n_volume_shards = math.ceil(volume["n_per_model"] / volume["shard_size"])
    assert counts["simulate_volume_shard"] == len(CLASSES) * n_volume_shards
    assert counts["train_gan"] == counts["train_gan3d"] == counts["fig6"] == 1


def test_cluster_profile_dry_run_submits_with_account_and_partition(tmp_path):
    env = {**os.environ, "SBATCH_ACCOUNT": "acct42", "SBATCH_PARTITION": "gpuq"}
    result = snakemake("all", "--profile", "slurm-gpu", "-n", workdir=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "Using profiles slurm-gpu" in result.stderr
    assert set(job_counts(result)) >= STAGES
    resources = [line for line in result.stdout.splitlines() if "resources:" in line]
    assert resources and all("slurm_account=acct42, slurm_partition=gpuq" in r for r in resources)
    shard = next(r for r in resources if "runtime=240" in r)  # per-rule wall time of the profile
    assert "mem_mb=" in shard


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (
            lambda c: c["simulation"].update(n_per_modle=c["simulation"].pop("n_per_model")),
            "simulation.n_per_modle",
        ),
        (lambda c: c["simulation"].update(n_per_model=-4), "simulation.n_per_model"),
    ],
)
def test_bad_config_stops_before_any_job_naming_the_key(edit, key, tmp_path):
    config = load_preset("smoke")
    edit(config)
    path = write_config(tmp_path / "bad.yaml", config)
    result = snakemake("all", "--cores", "1", "--configfile", str(path), workdir=tmp_path / "work")
    assert result.returncode != 0
    assert not (tmp_path / "work" / "results").exists()  # stopped before any job
    assert key in result.stderr
    assert "invalid configuration" in result.stderr
    assert not (tmp_path / "work" / "results").exists()


def test_malformed_yaml_config_stops_before_any_job(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("seed: 0\nsimulation: [unclosed\n")
    result = snakemake("all", "--cores", "1", "--configfile", str(path), workdir=tmp_path / "w")
    assert result.returncode != 0
    assert "Config file is not valid JSON or YAML" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w" / "results").exists()


# --- a real run of the smoke preset --------------------------------------------------------------


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("smoke")
    start = time.monotonic()
    result = snakemake(
        "all", "--cores", "2", "--configfile", str(ROOT / "config" / "smoke.yaml"), workdir=workdir
    )
    assert result.returncode == 0, result.stderr[-5000:]
    print(f"smoke run: {time.monotonic() - start:.1f} s")
    config = load_preset("smoke")
    validate(config, str(ROOT / "config" / "schema.yaml"))  # fill defaults as the workflow does
    settings = spectrum_settings(config)
    return workdir, config, settings, workdir / "results" / "smoke" / "data"


def uncovered(settings, model):
    """Coverage mask (True = no detector) of the layout for the crystal of ``model``."""
    return settings.uncovered(get_model(model).lattice_ab)


def test_smoke_training_pairs(smoke_run):
    _, config, settings, data = smoke_run
    shape = settings.layout.shape
    n = config["simulation"]["n_per_model"]
    n_test = max(1, round(config["split"]["test_fraction"] * n))
    for split, n_per_class in (("train", n - n_test), ("test", n_test)):
        f = read_h5(
            data / f"{split}.h5",
            required=["convolved", "unconvolved", "params", "label"],
            trailing_shape=shape,
        )
        d = f.datasets
        assert d["convolved"].shape == d["unconvolved"].shape == (2 * n_per_class, *shape)
        assert d["params"].shape == (2 * n_per_class, 6) and d["params"].dtype == np.float64
        np.testing.assert_array_equal(np.bincount(d["label"]), [n_per_class, n_per_class])
        for label, model in enumerate(CLASSES):
            mask = uncovered(settings, model)
            for name in ("convolved", "unconvolved"):
                x = d[name][d["label"] == label]
                np.testing.assert_array_equal(np.isnan(x), np.broadcast_to(mask, x.shape))
                assert (x[:, ~mask] >= 0).all()
                assert (x[:, ~mask].max(axis=1) > 0).all()  # every spectrum has intensity
            assert len(f.attrs["per_class"][model]["param_names"]) == 6
        assert f.attrs["classes"] == list(CLASSES)
        assert f.attrs["split"] == split and f.attrs["seed"] == config["seed"]
        assert f.attrs["settings"] == json.loads(json.dumps(settings.to_dict()))
        assert f.attrs["code_version"] == code_version()
    merged = read_h5(data / "simulated_goodenough.h5")
    assert [s["shard"] for s in merged.attrs["shards"]] == [0, 1]


# The crystal whose axes each reference set is measured in (its coverage mask).
REFERENCE_CRYSTAL = {"experiment": "goodenough", "negative_control": "goodenough"}


def test_smoke_reference_sets(smoke_run):
    _, config, settings, data = smoke_run
    sizes = {"experiment": "n_experiment", "negative_control": "n_negative_control"}
    for kind in REFERENCE_KINDS:
        f = read_h5(
            data / "reference" / f"{kind}.h5",
            required=["spectra"],
            trailing_shape=settings.layout.shape,
        )
        x = f.datasets["spectra"]
        assert len(x) == config["simulation"][sizes.get(kind, f"n_{kind}")]
        # NaN wherever no detector covers (dead tubes add more NaN inside the coverage)
        assert np.isnan(x[:, uncovered(settings, REFERENCE_CRYSTAL.get(kind, kind))]).all()
        assert np.nanmin(x) >= 0 and (np.nanmax(x, axis=(1, 2)) > 0).all()
        assert f.attrs["kind"] == kind and f.attrs["seed"] == config["seed"]


def test_smoke_patches(smoke_run):
    _, config, _, data = smoke_run
    size, n = config["patches"]["size"], config["patches"]["n_patches"]
    patches = read_h5(data / "patches.h5")
    train = read_h5(data / "train.h5").datasets
    d = patches.datasets
    assert d["convolved"].shape == d["unconvolved"].shape == (n, size, size)
    assert not np.isnan(d["convolved"]).any() and not np.isnan(d["unconvolved"]).any()
    for k in range(n):
        (r, c), i = d["origin"][k], d["source_index"][k]
        whole = train["unconvolved"][i]  # patches are in units of their spectrum's mean
        crop = whole[r : r + size, c : c + size] / np.nanmean(whole)
        np.testing.assert_allclose(d["unconvolved"][k], np.nan_to_num(crop, nan=0.0), rtol=1e-6)
    assert patches.attrs["seed"] == config["seed"] and patches.attrs["size"] == size
    assert patches.attrs["intensity"] == INTENSITY_RULE


def test_smoke_gan_runs_weight_the_low_pass_term_of_their_own_section(smoke_run):
    workdir, config, _, _ = smoke_run
    for run, weight in (
        ("gan2d", config["gan"]["lowpass_weight"]),
        ("gan3d", config["volume"]["lowpass_weight"]),
    ):
        assert weight > 0  # the smoke preset exercises the term in both GANs
        with (workdir / "results" / "smoke" / run / "losses.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert rows and all(float(r["g_lowpass"]) > 0 for r in rows)
        state = torch.load(workdir / "results" / "smoke" / run / "final.pt", weights_only=True)
        assert state["settings"]["loss_weights"]["lowpass"] == weight


def test_smoke_logs_benchmarks_and_report(smoke_run):
    workdir, _, _, data = smoke_run
    results = data.parent
    assert (results / "benchmarks" / "extract_patches.tsv").read_text().startswith("s\t")
    assert "wrote" in (results / "logs" / "split_train_test.log").read_text()
    report = workdir / "report.html"
    result = snakemake(
        "--configfile",
        str(ROOT / "config" / "smoke.yaml"),
        "--report",
        str(report),
        workdir=workdir,
    )
    assert result.returncode == 0, result.stderr
    assert report.stat().st_size > 10_000


def test_smoke_rerun_does_nothing_and_a_change_reruns_only_what_depends_on_it(smoke_run, tmp_path):
    workdir, config, _, _ = smoke_run
    config = copy.deepcopy(config)
    result = snakemake(
        "all", "-n", "--configfile", str(ROOT / "config" / "smoke.yaml"), workdir=workdir
    )
    assert result.returncode == 0, result.stderr
    assert "Nothing to be done" in result.stdout + result.stderr
    config["patches"]["n_patches"] += 1
    changed = write_config(tmp_path / "changed.yaml", config)
    result = snakemake("all", "-n", "--configfile", str(changed), workdir=workdir)
    assert result.returncode == 0, result.stderr
    # only the patches and what descends from the GAN rerun; not the data, classifiers or baselines
    assert set(job_counts(result)) == {
        "extract_patches", "train_gan", "select_gan", "back_translate_gan", "translate",
        "translate_test_selected", "translation_quality",
        "accuracy", "duq_kernels", "applicability", "fig4", "energy_cuts", "fig5", "esi_b",
        "esi_applicability", "training", "headline", "all",
    }  # fmt: skip
    config["patches"]["n_patches"] -= 1
    config["back_translation"]["iterations"] += 1
    changed = write_config(tmp_path / "back_translation.yaml", config)
    result = snakemake("all", "-n", "--configfile", str(changed), workdir=workdir)
    assert result.returncode == 0, result.stderr
    # the GAN is not retrained: only what reads the translator checkpoint reruns
    assert set(job_counts(result)) == {
        "back_translate_gan", "translate", "translation_quality", "accuracy", "duq_kernels",
        "fig4", "energy_cuts", "fig5", "esi_b", "headline", "all",
    }  # fmt: skip
    config["back_translation"]["iterations"] -= 1
    config["simulation"]["n_digits"] += 1
    changed = write_config(tmp_path / "digits.yaml", config)
    result = snakemake("all", "-n", "--configfile", str(changed), workdir=workdir)
    assert result.returncode == 0, result.stderr
    # the simulation section's other keys: the training data are neither remade nor stale
    assert set(job_counts(result)) == {
        "ood_set", "applicability", "duq_kernels", "esi_applicability", "fig5", "headline", "all",
    }  # fmt: skip


def kill_when(target, configfile, workdir, folder, pattern):
    """Run Snakemake on ``target``, SIGKILL its process group as soon as a file matching
    ``pattern`` exists under ``folder``, then unlock the folder as a user would."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), target]
    command += ["--cores", "1", "--configfile", str(configfile), "--directory", str(workdir)]
    job = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    while not any(folder.glob(pattern)) and job.poll() is None:
        assert time.monotonic() < deadline, f"no {pattern} appeared"
        time.sleep(0.05)
    assert job.poll() is None, "the job ended before it could be killed"
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    unlock = snakemake("--unlock", "--configfile", str(configfile), workdir=workdir)
    assert unlock.returncode == 0, unlock.stderr  # a killed Snakemake leaves its lock


def test_killed_training_job_resumes_to_the_uninterrupted_result(smoke_run, tmp_path):
    """SIGKILL the workflow during GAN training; --rerun-incomplete resumes from the checkpoint
    left in the run folder and ends with the weights of an uninterrupted run."""
    config = copy.deepcopy(smoke_run[1])
    config["gan"].update(n_epochs_constant=10, n_epochs_decay=10)  # 320 iterations
    path = write_config(tmp_path / "longer.yaml", config)
    target = "results/smoke/gan2d/final.pt"
    runs = {}
    for name in ("killed", "whole"):
        runs[name] = tmp_path / name
        shutil.copytree(smoke_run[0], runs[name], ignore=shutil.ignore_patterns("gan2d"))
    checkpoints = runs["killed"] / "results" / "smoke" / "gan2d" / "run" / "checkpoints"
    kill_when(target, path, runs["killed"], checkpoints, "iter_*.pt")
    assert not (runs["killed"] / target).exists()  # nothing a rerun would trust
    kept = sorted(p.name for p in checkpoints.glob("iter_*.pt"))
    assert kept and kept[-1] != "iter_00000320.pt"
    for name, extra in (("killed", ["--rerun-incomplete"]), ("whole", [])):
        result = snakemake(
            target, "--cores", "1", "--configfile", str(path), *extra, workdir=runs[name]
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert set(kept) <= {p.name for p in checkpoints.glob("iter_*.pt")}  # none lost
    resumed, whole = (
        torch.load(runs[n] / target, weights_only=True)["networks"] for n in ("killed", "whole")
    )
    for net, weights in whole.items():
        for key, value in weights.items():
            assert torch.equal(resumed[net][key], value), f"{net}.{key}"


def test_killed_simulation_leaves_nothing_trusted_and_the_rerun_matches(smoke_run, tmp_path):
    """SIGKILL the data stage once its first shard exists; the rerun with --rerun-incomplete
    produces the same data files as the uninterrupted run."""
    config_path = ROOT / "config" / "smoke.yaml"
    shards = tmp_path / "results" / "smoke" / "data" / "shards"
    kill_when("data", config_path, tmp_path, shards, "*/shard_*.h5")
    for shard in shards.glob("*/shard_*.h5"):  # under a final name only complete, verified files
        read_h5(shard, required=("convolved", "unconvolved", "params"))
    result = snakemake(
        "data", "--cores", "1", "--configfile", str(config_path), "--rerun-incomplete",
        workdir=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    reference = smoke_run[0] / "results" / "smoke" / "data"
    ours_root = tmp_path / "results" / "smoke" / "data"
    written = sorted(p.relative_to(ours_root) for p in ours_root.rglob("*.h5"))
    assert {"train.h5", "test.h5", "reference/experiment.h5"} <= {str(p) for p in written}
    for relative in written:
        ours, theirs = read_h5(ours_root / relative), read_h5(reference / relative)
        assert set(ours.datasets) == set(theirs.datasets), relative
        for name, values in theirs.datasets.items():
            np.testing.assert_array_equal(ours.datasets[name], values, err_msg=str(relative))


def _record(config, keys):
    """What a file made under ``keys`` (sections or dotted sub-keys) of ``config`` records."""
    record = {}
    for key in keys:
        *parents, leaf = key.split(".")
        source, node = config, record
        for part in parents:
            source, node = source[part], node.setdefault(part, {})
        node[leaf] = source[leaf]
    return record


SIMULATED = ("seed", "simulation.spectrum", "simulation.n_per_model", "simulation.shard_size")


def test_smoke_outputs_record_their_upstream_configuration(smoke_run):
    """Each file records the keys its whole upstream chain uses, and only those: the training
    data do not depend on the reference-set sizes or the GAN."""
    workdir, config, _, data = smoke_run
    results = workdir / "results" / "smoke"
    expected = {
        data / "shards" / "dimer" / "shard_0000.h5": SIMULATED,
        data / "train.h5": (*SIMULATED, "split"),
        data / "patches.h5": (*SIMULATED, "split", "patches"),
        data / "reference" / "digits.h5": (
            "seed", "simulation.spectrum", "simulation.n_digits", "simulation.n_photos",
            "simulation.n_per_model", "simulation.shard_size", "split",
        ),
        results / "translated" / "test_exp2sim.h5": (
            *SIMULATED, "split", "patches", "gan", "model_selection", "back_translation",
        ),
    }  # fmt: skip
    for path, keys in expected.items():
        assert read_h5(path).attrs["config"] == _record(config, keys), path
    checkpoint = torch.load(results / "gan2d" / "selected.pt", weights_only=True)
    assert checkpoint["config"] == _record(
        config, (*SIMULATED, "split", "patches", "gan", "model_selection")
    )


def test_a_stale_input_that_snakemake_keeps_is_refused_and_nothing_is_lost(smoke_run, tmp_path):
    """With --rerun-triggers mtime Snakemake does not rerun the split after a config change; the
    next job must then refuse the old train.h5, naming the key, and leave it untouched."""
    reference = smoke_run[0] / "results" / "smoke" / "data"
    data = tmp_path / "results" / "smoke" / "data"
    data.mkdir(parents=True)
    for name in ("train.h5", "test.h5"):
        shutil.copy2(reference / name, data / name)
    before = (data / "train.h5").read_bytes()
    config = load_preset("smoke")
    old = config["split"]["test_fraction"]
    config["split"]["test_fraction"] = 0.5
    changed = write_config(tmp_path / "changed.yaml", config)
    result = snakemake(
        "patches", "--cores", "1", "--configfile", str(changed), "--rerun-triggers", "mtime",
        workdir=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0
    log = (tmp_path / "results" / "smoke" / "logs" / "extract_patches.log").read_text()
    assert log.startswith("error: results/smoke/data/train.h5: it is stale")  # no traceback
    assert f"split.test_fraction: file {old}, config now 0.5" in log
    assert (data / "train.h5").read_bytes() == before
    assert not (data / "patches.h5").exists()


def _csv_header(path):
    return path.read_text().splitlines()[0].split(",")


def test_smoke_tables(smoke_run):
    workdir, config, _, _ = smoke_run
    tables = workdir / "results" / "smoke" / "tables"
    assert _csv_header(tables / "translation_quality.csv") == [
        "method", "model_class", "direction", "n_spectra",
        "psnr_before", "psnr_after", "ssim_before", "ssim_after", "change_cosine", "change_size",
        "psnr_gain_low", "psnr_gain_high",
    ]  # fmt: skip
    assert _csv_header(tables / "gan_selection.csv") == [
        "checkpoint", "iteration", "direction", "features", "frechet_distance", "selected",
    ]  # fmt: skip
    assert _csv_header(tables / "accuracy.csv") == [
        "trained_on", "evaluated_on", "n_spectra", "accuracy", "ci_low", "ci_high",
        "paper_accuracy", "compared_with", "n_fixed", "n_broken", "p_paired",
    ]  # fmt: skip
    assert len((tables / "accuracy.csv").read_text().splitlines()) == 1 + 9
    assert _csv_header(tables / "duq_experiment.csv")[:2] == ["spectrum", "translation"]
    applicability = (tables / "applicability.csv").read_text().splitlines()
    assert applicability[0] == "direction,set,n_spectra,measure,mean,std,zone"
    sets = {line.split(",")[1] for line in applicability[1:]}
    assert sets == {
        "train", "test_convolved", "test_unconvolved", "experiment", "negative_control",
        "rb2mnf4", "digits", "photos",
    }  # fmt: skip
    zones = json.loads((tables / "applicability_zones.json").read_text())
    for direction in ("exp2sim", "sim2exp"):
        for calibration in zones[direction].values():
            assert calibration["trust_max"] <= calibration["untrust_min"]
            assert calibration["trust_quantile"] == 0.95
    for gan in ("gan2d", "gan3d"):
        assert (workdir / "results" / "smoke" / gan / "selected.pt").stat().st_size > 0
    quality_3d = (tables / "translation_quality_3d.csv").read_text().splitlines()
    assert len(quality_3d) == 1 + 2 * 3  # (2 classes + all) x 2 directions
    sim = config["simulation"]
    single = (tables / "applicability_single.csv").read_text().splitlines()
    assert single[0] == "direction,set,spectrum,measure,distance,zone"
    n_alone = sim["n_experiment"] + sim["n_negative_control"] + sim["n_rb2mnf4"]
    assert len(single) == 1 + 2 * n_alone  # every experiment-like spectrum alone, 2 directions
    verdicts = (tables / "duq_verdicts.csv").read_text().splitlines()
    experiment = [line for line in verdicts if ",experiment," in line]
    assert len(experiment) == 2 * 2  # 2 classifiers x (raw, GAN-deconvolved)
    headline = (tables / "headline.md").read_text()
    for line in (tables / "accuracy.csv").read_text().splitlines()[1:]:
        trained_on, evaluated_on, n = line.split(",")[:3]
        assert f"| {trained_on} | {evaluated_on} | {n} |" in headline


FIGURES = (
    "fig2", "fig4", "energy_cuts", "fig5", "fig6", "esi_b", "esi_c", "esi_d", "training",
    "data_overview",
)  # fmt: skip


def _png_size(path):
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


def test_smoke_figures_are_valid_pdfs_and_pngs(smoke_run):
    workdir, _, _, _ = smoke_run
    folder = workdir / "results" / "smoke" / "figures"
    for name in FIGURES:
        pdf = (folder / f"{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF"), name
        width, height = _png_size(folder / f"{name}.png")
        assert 600 <= width <= 4000 and 300 <= height <= 4000, (name, width, height)


# Jobs each figure target must not schedule from an empty folder (what it does not need).
NOT_NEEDED = {
    "fig2": {"train_gan", "train_duq", "applicability", "translate"},
    "data_overview": {"split_train_test", "simulate_reference", "train_gan"},
    "training": {"translate", "train_duq", "applicability", "simulate_reference"},
    "esi_b": {"train_duq", "applicability", "deconvolve_baseline", "simulate_reference"},
    "fig4": {"applicability", "ood_set", "simulate_reference"},
    "energy_cuts": {"train_duq", "applicability", "simulate_reference", "ood_set"},
    "esi_c": {"train_duq", "accuracy", "deconvolve_baseline"},
    "fig5": {"accuracy", "deconvolve_baseline", "translation_quality"},
    "fig6": {"train_gan", "simulate_shard", "train_duq", "applicability"},
}


@pytest.mark.parametrize("target", sorted(NOT_NEEDED))
def test_each_figure_target_schedules_only_what_it_needs(target, tmp_path):
    result = snakemake(
        target, "-n", "--configfile", str(ROOT / "config" / "smoke.yaml"), workdir=tmp_path
    )
    assert result.returncode == 0, result.stderr
    counts = job_counts(result)
    rule = "esi_applicability" if target.startswith("esi_") and target != "esi_b" else target
    assert counts.get(rule) == 1
    assert not NOT_NEEDED[target] & set(counts), sorted(NOT_NEEDED[target] & set(counts))


def test_user_spectrum_is_checked_at_start_and_imported(tmp_path):
    config = load_preset("smoke")
    shape = (16, 80)  # 2 Ei x 8 pixels, 10 energy bins x 8 pixels
    spectrum = np.ones(shape)
    spectrum[:, :8] = 0.0  # uncovered in the community convention
    np.save(tmp_path / "mine.npy", spectrum)
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")

    config["user_spectra"] = [{"name": "mine", "path": str(tmp_path / "photo.png")}]
    bad = write_config(tmp_path / "bad.yaml", config)
    result = snakemake("data", "--cores", "1", "--configfile", str(bad), workdir=tmp_path / "w")
    assert result.returncode != 0
    assert "user_spectra[0].path:" in result.stderr
    assert "unsupported file type '.png'" in result.stderr

    config["user_spectra"] = [{"name": "mine", "path": str(tmp_path / "mine.npy")}]
    good = write_config(tmp_path / "good.yaml", config)
    target = "results/smoke/data/user/mine.h5"
    result = snakemake(target, "--cores", "1", "--configfile", str(good), workdir=tmp_path / "w")
    assert result.returncode == 0, result.stderr
    assert job_counts(result) == {"import_user_spectrum": 1}
    out = read_h5(tmp_path / "w" / target, required=["spectra"], trailing_shape=shape)
    np.testing.assert_array_equal(np.isnan(out.datasets["spectra"][0]), spectrum == 0)
    assert out.attrs["name"] == "mine" and out.attrs["kind"] == "user"
