"""The cost of a preset before it is run: jobs, CPU-hours or GPU-hours of each expensive stage.

Work per stage comes from the configuration: stable spectrum pairs to simulate (2D and 3D), GAN
iterations (epochs times patches over the batch size, 2D and 3D), DUQ training spectra times
epochs (two classifiers). Seconds per unit of that work come from a ``Throughput`` record
measured on one machine for this configuration's workload (``measure``): the simulation of a few
stable pairs of each model at the configured layout (unstable draws included, as in a run), a
few GAN steps of the configured networks, crop and batch after a warm-up step, and one DUQ epoch
on spectra of the layout's shape. A record holds the date, the machine, the device and the
package versions, and a ``workload`` key that says which configuration it fits; ``plan_rows``
multiplies. Stages that take minutes at any size (merging, selection, translation,
applicability, figures) are not estimated.

Rates are measured with one torch thread per job, the way the workflow runs its jobs; a
measurement on a loaded machine overstates the cost. GPU-hours appear only for stages whose
device is a GPU and for a record measured on one.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from exp2simgan_core import streams
from exp2simgan_core.config import volume_gan_section, volume_spectrum_config
from exp2simgan_core.simulate import SimulationSettings
from exp2simgan_core.version import code_version
from exp2simgan_core.vocabulary import CLASSES, DOMAINS

PACKAGES = ("torch", "numpy", "scipy", "pot")
PLAN_COLUMNS = ("stage", "jobs", "work", "seconds_per_unit", "cpu_hours", "gpu_hours")
GAN_STEPS = 3  # timed steps after one warm-up step
PAIRS_PER_MODEL = 2  # stable pairs simulated per model for the simulation rate


@dataclass(frozen=True)
class Throughput:
    """Measured seconds per unit of work on one machine, for one configuration's workload.

    ``simulate_pair_s``: model -> seconds per stable 2D pair (unstable draws included);
    ``simulate_volume_s``: the same for 3D volumes; ``gan_iteration_s`` and
    ``gan3d_iteration_s``: seconds per GAN iteration; ``duq_spectrum_epoch_s``: seconds per
    training spectrum and epoch of one DUQ classifier. ``device`` is where the GAN and DUQ rates
    were measured ('cpu' or 'cuda'); the simulation rates are always CPU rates.
    """

    workload: str
    machine: str
    device: str
    date: str
    versions: dict[str, str]
    simulate_pair_s: dict[str, float]
    simulate_volume_s: dict[str, float]
    gan_iteration_s: float
    gan3d_iteration_s: float
    duq_spectrum_epoch_s: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Throughput:
        return cls(**json.loads(text))


def machine_description() -> str:
    """The processor and the number of cores (and the GPU, if torch finds one)."""
    import torch

    cpu = platform.processor() or platform.machine()
    text = f"{cpu}, {os.cpu_count()} cores"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def workload_key(config: Mapping[str, Any]) -> str:
    """A hash of the configuration sections that set the cost of one unit of work."""
    sections = {
        "spectrum": config["simulation"]["spectrum"],
        "volume": volume_spectrum_config(config),
        "gan": config["gan"],
        "gan3d": volume_gan_section(config),
        "duq": config["duq"],
    }
    text = json.dumps(sections, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _time_simulation(spectrum_section: Mapping[str, Any], seed: int) -> dict[str, float]:
    from exp2simgan_core.physics.models import get_model
    from exp2simgan_core.physics.spectra import SpectrumCalculator
    from exp2simgan_core.simulate import draw_spectra

    # CPU rates: the simulation jobs ask for no GPU, so ``auto`` finds none on a cluster
    settings = SimulationSettings.from_config({**spectrum_section, "device": "cpu"})
    rates = {}
    for model in CLASSES:
        spec = get_model(model)
        calc = SpectrumCalculator(spec, settings.spectrum, settings.uncovered(spec.lattice_ab))
        start = time.perf_counter()
        draw_spectra(calc, PAIRS_PER_MODEL, streams.rng(seed, f"plan/{model}"), progress=False)
        rates[model] = (time.perf_counter() - start) / PAIRS_PER_MODEL
    return rates


def _time_gan(section: Mapping[str, Any], seed: int, dims: int, device: str) -> float:
    import torch

    from exp2simgan_core.dataset import INTENSITY_RULE
    from exp2simgan_core.gan.checkpoint import DataScaling
    from exp2simgan_core.gan.settings import GanSettings
    from exp2simgan_core.gan.state import build_training, grad_scaler
    from exp2simgan_core.gan.train import low_pass_fidelity, train_step

    settings = GanSettings.from_config(section, seed, dims=dims)
    dev = torch.device(device)
    torch.manual_seed(streams.torch_seed(seed, "plan/gan"))
    model, optimisers, _ = build_training(settings, dev)
    scaler = grad_scaler(settings, dev)
    lowpass = low_pass_fidelity(settings, DataScaling(1.0, 1.0, INTENSITY_RULE))  # random crops
    shape = (settings.batch_size, 1) + (settings.crop_size,) * dims
    real_exp, real_sim = (torch.rand(shape, device=dev) * 2 - 1 for _ in range(2))
    train_step(model, optimisers, real_exp, real_sim, settings, lowpass, scaler=scaler)  # warm-up
    _synchronize(dev)
    start = time.perf_counter()
    for _ in range(GAN_STEPS):
        train_step(model, optimisers, real_exp, real_sim, settings, lowpass, scaler=scaler)
    _synchronize(dev)
    return (time.perf_counter() - start) / GAN_STEPS


def _synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_duq(config: Mapping[str, Any], shape: tuple[int, int], device: str) -> float:
    from exp2simgan_core.duq import DuqSettings, train_duq

    settings = DuqSettings.from_config({**config["duq"], "epochs": 1}, config["seed"])
    n = 4 * settings.batch_size
    rng = streams.rng(config["seed"], "plan/duq")
    spectra = rng.random((n, *shape)).astype(np.float32)
    labels = np.arange(n) % len(CLASSES)
    start = time.perf_counter()
    train_duq(settings, spectra, labels, progress=False, class_names=CLASSES, device=device)
    return (time.perf_counter() - start) / n


def measure(config: Mapping[str, Any], device: str = "cpu", progress: bool = False) -> Throughput:
    """Measure every rate of ``config``'s workload here (one torch thread), with the GAN and
    DUQ steps on ``device``. Seconds for the demo; about 6 minutes for the paper preset on a
    2-core CPU, most of them four steps of the paper's 3D GAN (66 s each). ``progress``: a
    progress bar over the five rates."""
    import torch

    seed = config["seed"]
    layout = SimulationSettings.from_config(config["simulation"]["spectrum"]).layout
    steps = {
        "simulate_pair_s": lambda: _time_simulation(config["simulation"]["spectrum"], seed),
        "simulate_volume_s": lambda: _time_simulation(volume_spectrum_config(config), seed),
        "gan_iteration_s": lambda: _time_gan(config["gan"], seed, 2, device),
        "gan3d_iteration_s": lambda: _time_gan(volume_gan_section(config), seed, 3, device),
        "duq_spectrum_epoch_s": lambda: _time_duq(config, layout.shape, device),
    }
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    rates = {}
    try:
        bar = tqdm(steps.items(), desc="measuring rates", unit="rate", disable=not progress)
        for name, step in bar:
            bar.set_postfix_str(name)
            rates[name] = step()
    finally:
        torch.set_num_threads(previous)
    return Throughput(
        workload=workload_key(config),
        machine=machine_description(),
        device=device,
        date=date.today().isoformat(),
        versions={"exp2simgan": code_version(), **{p: _version(p) for p in PACKAGES}},
        **rates,
    )


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _row(stage: str, jobs: int, work: str, units: float, rate: float, on_gpu: bool) -> dict:
    hours = units * rate / 3600.0
    return {
        "stage": stage,
        "jobs": jobs,
        "work": work,
        "seconds_per_unit": rate,
        "cpu_hours": 0.0 if on_gpu else hours,
        "gpu_hours": hours if on_gpu else 0.0,
    }


def plan_rows(config: Mapping[str, Any], rates: Throughput) -> list[dict]:
    """One row per expensive stage (``PLAN_COLUMNS``) of ``config`` at the ``rates``.

    Raises ValueError when ``rates`` were measured for another workload.
    """
    if rates.workload != workload_key(config):
        raise ValueError(
            f"the throughput record is for workload {rates.workload}, this configuration's is "
            f"{workload_key(config)}: measure it again"
        )
    simulation, volume, gan = config["simulation"], config["volume"], config["gan"]
    on_gpu = rates.device == "cuda"
    rows = []
    n, shard = simulation["n_per_model"], simulation["shard_size"]
    pair_s = sum(rates.simulate_pair_s.values()) / len(rates.simulate_pair_s)
    rows.append(_row("simulate (2D pairs)", len(CLASSES) * math.ceil(n / shard),
                     f"{len(CLASSES) * n} pairs", len(CLASSES) * n, pair_s, False))  # fmt: skip
    n_reference = sum(simulation[k] for k in ("n_experiment", "n_negative_control", "n_rb2mnf4"))
    rows.append(_row("simulate (reference sets)", 3, f"{n_reference} spectra", n_reference,
                     pair_s, False))  # fmt: skip
    nv, vshard = volume["n_per_model"], volume["shard_size"]
    volume_s = sum(rates.simulate_volume_s.values()) / len(rates.simulate_volume_s)
    rows.append(_row("simulate (3D volumes)", len(CLASSES) * math.ceil(nv / vshard),
                     f"{len(CLASSES) * nv} pairs", len(CLASSES) * nv, volume_s, False))  # fmt: skip
    for stage, section, patches, rate in (
        ("train_gan (2D)", gan, config["patches"]["n_patches"], rates.gan_iteration_s),
        ("train_gan (3D)", volume_gan_section(config), volume["n_patches"],
         rates.gan3d_iteration_s),
    ):  # fmt: skip
        epochs = section["n_epochs_constant"] + section["n_epochs_decay"]
        iterations = epochs * math.ceil(patches / section["batch_size"])
        rows.append(_row(stage, 1, f"{iterations:,} iterations", iterations, rate, on_gpu))
    n_train = round(len(CLASSES) * n * (1.0 - config["split"]["test_fraction"]))
    units = len(DOMAINS) * n_train * config["duq"]["epochs"]
    rows.append(_row("train_duq", len(DOMAINS),  # one classifier per domain
                     f"2 x {n_train} spectra x {config['duq']['epochs']} epochs", units,
                     rates.duq_spectrum_epoch_s, on_gpu))  # fmt: skip
    return rows


def plan_table(rows: list[dict], rates: Throughput) -> str:
    """The rows as a fixed-width table, with the record's machine, device and date."""
    lines = [
        f"rates measured {rates.date} on {rates.machine} (GAN and DUQ on {rates.device}; "
        f"exp2simgan {rates.versions.get('exp2simgan', '?')})",
        f"{'stage':28} {'jobs':>5}  {'work':36} {'s/unit':>9} {'CPU-h':>9} {'GPU-h':>9}",
    ]
    for r in rows:
        lines.append(
            f"{r['stage']:28} {r['jobs']:>5}  {r['work']:36} {r['seconds_per_unit']:9.3g} "
            f"{r['cpu_hours']:9.2f} {r['gpu_hours']:9.2f}"
        )
    cpu, gpu = sum(r["cpu_hours"] for r in rows), sum(r["gpu_hours"] for r in rows)
    lines.append(f"{'total':28} {sum(r['jobs'] for r in rows):>5}  {'':36} {'':>9} "
                 f"{cpu:9.2f} {gpu:9.2f}")  # fmt: skip
    lines.append("not estimated (minutes at any size): merging, selection, translation, "
                 "applicability, figures")  # fmt: skip
    return "\n".join(lines)


def load_or_measure(
    config: Mapping[str, Any], record: Path, device: str, progress: bool = False
) -> Throughput:
    """The record at ``record`` if it fits this configuration and device; else a new
    measurement, written there. ``progress``: say on stderr that a measurement starts, and
    show its progress."""
    if record.is_file():
        try:
            rates = Throughput.from_json(record.read_text())
        except (ValueError, TypeError) as err:  # not JSON, or not this version's fields
            raise ValueError(
                f"{record}: not a throughput record ({err}); delete it or give another --record"
            ) from None
        if rates.workload == workload_key(config) and rates.device == device:
            return rates
    if progress:
        print(
            f"no throughput record at {record} fits this workload on {device}: measuring it here "
            "(seconds for the demo, about 6 minutes for the paper preset on a 2-core CPU)",
            file=sys.stderr,
        )
    rates = measure(config, device, progress)
    from exp2simgan_core.io import write_text

    record.parent.mkdir(parents=True, exist_ok=True)
    write_text(record, rates.to_json())
    return rates
