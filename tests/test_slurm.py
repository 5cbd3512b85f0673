"""The cluster profile slurm-gpu/ on a real one-node SLURM cluster (tests/slurm_cluster.py).

The smoke preset's GAN training and every CPU stage before it, submitted through the profile,
give the same files and HDF5 contents as a local run; the training job asks SLURM for a GPU on
the gpu partition and the CPU jobs for none; a job that fails once is retried by the profile.
Skipped, with the reason, where no cluster can be set up (not root, no apt, daemons not up).

Run with ``pytest -s tests/test_slurm.py`` to see the plugin's sbatch calls.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from slurm_cluster import CPU_PARTITION, GPU_PARTITION, ClusterUnavailable, start_cluster
from slurm_cluster import stop_cluster as stop_slurm_cluster

from exp2simgan_core.gan.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "slurm-gpu"
# train_gan's checkpoint: the GPU rule and the CPU stages that make its patches (shards, merge,
# split, patches), the smallest target of the smoke preset with both kinds of job.
TARGET = "results/smoke/gan2d/final.pt"
GPU_RULE = "train_gan"
SLURM_OPTIONS = (
    # `sacct` is installed but there is no accounting database: query job states with squeue
    # (finished jobs stay visible for the cluster's MinJobAge), from 2 s after submission.
    *("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2"),
    # No account: plugin 2.8.0 declares this flag without reading it, tries to guess an account
    # with sacct, fails (no accounting) and submits without -A, which the test checks.
    "--slurm-no-account",
    "--verbose",  # the plugin logs each sbatch call ("sbatch call: sbatch ...") at debug level
)
SNAKEMAKE_TIMEOUT_S = 1200
# Copied into each temporary checkout: the workflow, not the environment or earlier results.
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "results", ".snakemake", "__pycache__", ".*_cache", "*.egg-info", "tests"
)
# Fails on its first attempt (leaves a marker), succeeds on the next.
FLAKY_SNAKEFILE = """
rule flaky:
    output:
        "done.txt",
    resources:
        mem_mb=100,
        runtime=5,
    shell:
        "if [ ! -e first_attempt ]; then touch first_attempt; "
        "echo 'failing on purpose' >&2; exit 3; fi; echo ok > {output}"
"""


@pytest.fixture(scope="module")
def cluster():
    try:
        cluster = start_cluster()
    except ClusterUnavailable as error:
        pytest.skip(f"no SLURM test cluster: {error}")
    yield cluster
    stop_slurm_cluster(cluster)


def cluster_env() -> dict[str, str]:
    """The environment of a cluster run: CPU jobs on partition cpu, the GPU rule on gpu."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SBATCH_", "SLURM_"))}
    return {**env, "SBATCH_PARTITION": CPU_PARTITION, "SBATCH_GPU_PARTITION": GPU_PARTITION}


def start_snakemake(*args: str, cwd: Path, log: Path, env: dict[str, str] | None = None):
    """Start Snakemake in ``cwd`` with its output going to ``log``; returns (process, start)."""
    with open(log, "w") as out:
        command = [sys.executable, "-m", "snakemake", *args]
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    return process, time.monotonic()


def finish(process: subprocess.Popen, start: float, log: Path, what: str) -> tuple[str, float]:
    """Wait for a run started by start_snakemake; assert success; return (output, seconds)."""
    try:
        process.wait(timeout=max(1.0, SNAKEMAKE_TIMEOUT_S - (time.monotonic() - start)))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    seconds = time.monotonic() - start
    output = log.read_text()
    assert process.returncode == 0, f"{what} failed ({seconds:.0f} s):\n{output[-8000:]}"
    print(f"\n{what}: {seconds:.0f} s")
    return output, seconds


def sbatch_calls(output: str) -> list[str]:
    """The plugin's sbatch command lines in a --verbose Snakemake log."""
    return [
        line.partition("sbatch call: ")[2]
        for line in output.splitlines()
        if "sbatch call: " in line
    ]


def rule_of(call: str) -> str:
    """The rule of an sbatch call (the plugin puts ``--comment rule_<name>[_wildcards_...]``)."""
    return re.search(r"--comment '?rule_(\w+?)(?:_wildcards_\S*)?'?(?: |$)", call).group(1)


def files_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def h5_contents(path: Path) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    with h5py.File(path, "r") as f:
        datasets = {name: f[name][()] for name in f}
        return datasets, dict(f.attrs)


def assert_same_state(found, expected, where: str) -> None:
    """Equal nested checkpoint contents: dicts, sequences, tensors and arrays exactly."""
    if isinstance(expected, dict):
        assert isinstance(found, dict) and found.keys() == expected.keys(), where
        for key in expected:
            assert_same_state(found[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert isinstance(found, list | tuple) and len(found) == len(expected), where
        for i, (a, b) in enumerate(zip(found, expected, strict=True)):
            assert_same_state(a, b, f"{where}[{i}]")
    elif isinstance(expected, torch.Tensor):
        assert torch.equal(found, expected), where
    elif isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(found, expected, err_msg=where)
    else:
        assert found == expected, where


@pytest.fixture(scope="module")
def local_and_cluster_runs(cluster, tmp_path_factory):
    """The same target run locally and through the cluster profile, each in a fresh checkout.

    Both run at once: the cluster run spends most of its time waiting (job start-up, status
    polls), so together they take little longer than the cluster run alone.
    """
    started = {}
    for name, options, env in (
        ("local", ("--cores", "2"), None),
        ("slurm", ("--profile", "slurm-gpu", *SLURM_OPTIONS), cluster_env()),
    ):
        checkout = tmp_path_factory.mktemp(name) / "repo"
        shutil.copytree(ROOT, checkout, ignore=NOT_COPIED)
        log = checkout.parent / "snakemake.log"
        # --configfile last: it reads every following word as a file name
        args = (TARGET, *options, "--configfile", "config/smoke.yaml")
        started[name] = (checkout, log, *start_snakemake(*args, cwd=checkout, log=log, env=env))
    runs = {}
    for name, (checkout, log, process, start) in started.items():
        output, _ = finish(process, start, log, f"{name} run of {TARGET}")
        runs[name] = (checkout, output)
    return runs


def test_cluster_run_gives_the_files_and_data_of_a_local_run(local_and_cluster_runs):
    (local, _), (slurm, _) = local_and_cluster_runs["local"], local_and_cluster_runs["slurm"]
    files = files_under(local / "results")
    assert files_under(slurm / "results") == files
    assert TARGET.removeprefix("results/") in files
    h5_files = sorted(f for f in files if f.endswith(".h5"))
    assert len(h5_files) >= 8  # 4 shards, 2 merged classes, train, test, patches
    for name in h5_files:
        expected_data, expected_attrs = h5_contents(local / "results" / name)
        data, attrs = h5_contents(slurm / "results" / name)
        assert data.keys() == expected_data.keys(), name
        for key, expected in expected_data.items():
            np.testing.assert_array_equal(data[key], expected, err_msg=f"{name}: {key}")
            assert data[key].dtype == expected.dtype, f"{name}: {key}"
        assert attrs.keys() == expected_attrs.keys(), name
        for key, expected in expected_attrs.items():
            np.testing.assert_array_equal(attrs[key], expected, err_msg=f"{name}: attr {key}")
    gan = "gan2d/losses.csv"
    assert (slurm / "results" / "smoke" / gan).read_text() == (
        local / "results" / "smoke" / gan
    ).read_text()
    assert_same_state(load_checkpoint(slurm / TARGET), load_checkpoint(local / TARGET), TARGET)


def test_gpu_rule_is_submitted_with_a_gpu_request(cluster, local_and_cluster_runs):
    _, log = local_and_cluster_runs["slurm"]
    calls = sbatch_calls(log)
    gpu_calls = [call for call in calls if rule_of(call) == GPU_RULE]
    cpu_calls = [call for call in calls if rule_of(call) != GPU_RULE]
    quoted = "\n".join(gpu_calls) or "(no sbatch call for train_gan in the log)"
    print(f"\nsbatch calls of {GPU_RULE}:\n{quoted}")
    assert len(gpu_calls) == 1, quoted
    gpu_call = gpu_calls[0]
    assert " --gpus=1" in gpu_call, quoted
    assert f" -p {GPU_PARTITION} " in gpu_call, quoted
    assert "--gres" not in gpu_call, quoted  # one GPU request, not two
    assert " -A " not in gpu_call, quoted  # no account: the cluster has no accounting
    assert {rule_of(call) for call in cpu_calls} >= {"simulate_shard", "extract_patches"}
    for call in cpu_calls:
        assert f" -p {CPU_PARTITION} " in call and "--gpus" not in call, call
    # what SLURM made of it (finished jobs stay in squeue for the cluster's MinJobAge)
    job_id = re.search(r"--job-name '?([\w-]+)", gpu_call).group(1)
    jobs = [job for job in cluster.jobs() if job["name"] == job_id]
    gpu_jobs = [job for job in jobs if job["comment"] == f"rule_{GPU_RULE}"]
    assert len(gpu_jobs) == 1, jobs
    shown = cluster.show_job(gpu_jobs[0]["id"])
    keys = ("JobState", "Partition", "TresPerJob", "NumCPUs")
    print(f"scontrol show job {gpu_jobs[0]['id']}: {[f'{k}={shown.get(k)}' for k in keys]}")
    assert shown["JobState"] == "COMPLETED"
    assert shown["Partition"] == GPU_PARTITION
    assert re.fullmatch(r"gres[:/]gpu:1", shown["TresPerJob"]), shown  # 22.05 ':', 23.02+ '/'


def test_a_job_that_fails_once_is_retried_by_the_profile(cluster, tmp_path):
    (tmp_path / "Snakefile").write_text(FLAKY_SNAKEFILE)
    args = ("--profile", str(PROFILE), *SLURM_OPTIONS)
    log = tmp_path / "snakemake.log"
    process, start = start_snakemake(*args, cwd=tmp_path, log=log, env=cluster_env())
    output, _ = finish(process, start, log, "run of a rule that fails once")
    assert (tmp_path / "first_attempt").exists()
    assert (tmp_path / "done.txt").read_text() == "ok\n"
    submitted = re.findall(r"Job \d+ has been submitted with SLURM jobid (\d+)", output)
    jobs = {job["id"]: job for job in cluster.jobs() if job["comment"] == "rule_flaky"}
    evidence = (
        f"submissions (SLURM job ids): {submitted}; squeue: {list(jobs.values())}; "
        f"failures: {re.findall(r'SLURM-job .*failed.*', output)}"
    )
    print(evidence)
    assert len(submitted) == 2, evidence
    assert [jobs[i]["state"] for i in submitted] == ["FAILED", "COMPLETED"], evidence
    assert f"SLURM-job '{submitted[0]}' failed, SLURM status is: 'FAILED'" in output
    failed_log = tmp_path / ".snakemake" / "slurm_logs" / "rule_flaky" / f"{submitted[0]}.log"
    assert "failing on purpose" in failed_log.read_text()
