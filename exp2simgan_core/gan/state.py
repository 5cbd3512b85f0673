"""A training run's state: networks, optimisers, learning-rate schedules, the loss scale and
random streams.

``TrainingState.fresh`` builds them for ``GanSettings`` (networks drawn from the torch stream
seeded with the settings' seed), ``to_checkpoint`` writes the dict that
``exp2simgan_core.gan.checkpoint`` describes, and ``resume_from`` loads one back, refusing a
checkpoint of other settings, architecture or data. ``set_aside_other_run`` moves a run that
cannot be resumed out of the way instead.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from exp2simgan_core import streams
from exp2simgan_core.gan.checkpoint import (
    DataScaling,
    latest_checkpoint,
    load_checkpoint,
    mismatches,
    read_checkpoint,
)
from exp2simgan_core.gan.model import DualGan
from exp2simgan_core.provenance import input_problem
from exp2simgan_core.version import code_version

if TYPE_CHECKING:
    from exp2simgan_core.gan.settings import GanSettings


def lr_lambda(n_constant: int, n_decay: int) -> Callable[[int], float]:
    """CUT's linear rule: factor 1 for n_constant epochs, then 1 - k / (n_decay + 1)."""
    return lambda epoch: 1.0 - max(0, epoch + 1 - n_constant) / float(n_decay + 1)


def build_training(
    settings: GanSettings, device: torch.device
) -> tuple[DualGan, dict[str, torch.optim.Optimizer], dict[str, torch.optim.lr_scheduler.LambdaLR]]:
    """Fresh networks (drawn from the torch RNG), Adam optimisers "g", "d", "f", schedulers."""
    model = DualGan(
        generator=settings.generator_settings(),
        discriminator=settings.discriminator_settings(),
        generator_name=settings.generator,
        discriminator_name=settings.discriminator,
        nce_layers=settings.nce_layers,
        mlp_dim=settings.mlp_dim,
    ).to(device)
    if settings.channels_last and settings.dims == 2:
        model = model.to(memory_format=torch.channels_last)
    if settings.compile:  # in place: state_dict keys, hence checkpoints, are unchanged
        for module in (*model.generators(), *model.discriminators()):
            module.compile()
        for generator in model.generators():  # the translation and PatchNCE query passes
            generator.forward_and_encode = torch.compile(generator.forward_and_encode)
            generator.encode = torch.compile(generator.encode)
    fused = device.type == "cuda"
    groups = {"g": model.generators(), "d": model.discriminators(), "f": model.heads()}
    optimisers = {
        k: torch.optim.Adam(
            [p for m in mods for p in m.parameters()],
            lr=settings.lr,
            betas=settings.betas,
            fused=fused,
        )
        for k, mods in groups.items()
    }
    rule = lr_lambda(settings.n_epochs_constant, settings.n_epochs_decay)
    schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, rule) for k, o in optimisers.items()}
    return model, optimisers, schedulers


def grad_scaler(settings: GanSettings, device: torch.device) -> torch.amp.GradScaler:
    """Dynamic loss scaling for precision fp16 (float16's exponent range is narrow); a disabled
    scaler, which changes nothing, otherwise."""
    return torch.amp.GradScaler(device.type, enabled=settings.precision == "fp16")


Optimisers = dict[str, torch.optim.Optimizer]


Schedulers = dict[str, torch.optim.lr_scheduler.LambdaLR]


@dataclass
class TrainingState:
    """What a run continues from: networks, optimisers, schedulers and both random streams,
    with the settings, data scaling and data fingerprint they were built for."""

    settings: GanSettings
    scaling: DataScaling
    fingerprint: str  # data_fingerprint of the patches
    model: DualGan
    optimisers: Optimisers
    schedulers: Schedulers
    rng: np.random.Generator  # the crops' stream
    scaler: torch.amp.GradScaler  # dynamic loss scaling; enabled for precision "fp16" only

    @classmethod
    def fresh(
        cls, settings: GanSettings, scaling: DataScaling, fingerprint: str, device: torch.device
    ) -> TrainingState:
        """Networks drawn from the named stream ``"gan/weights"``, crops from ``"gan/crops"``."""
        torch.manual_seed(streams.torch_seed(settings.seed, "gan/weights"))
        rng = streams.rng(settings.seed, "gan/crops")
        model, optimisers, schedulers = build_training(settings, device)
        scaler = grad_scaler(settings, device)
        return cls(settings, scaling, fingerprint, model, optimisers, schedulers, rng, scaler)

    def to_checkpoint(self, iteration: int) -> dict:
        """The checkpoint dict described in ``exp2simgan_core.gan.checkpoint``."""
        return {
            "networks": {name: module.state_dict() for name, module in self.model.named_children()},
            "optimisers": {k: o.state_dict() for k, o in self.optimisers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "grad_scaler": self.scaler.state_dict(),  # {} unless fp16
            "rng": {"torch": torch.get_rng_state(), "numpy": self.rng.bit_generator.state},
            "iteration": iteration,
            "settings": asdict(self.settings),
            "architecture": self.settings.architecture(),
            "scaling": asdict(self.scaling),
            "data_sha256": self.fingerprint,
            "code_version": code_version(),
        }

    def resume_from(self, path: Path) -> int:
        """Load checkpoint ``path`` into this state; return its iteration. Refuses other runs."""
        state = load_checkpoint(path)
        problem = resume_problem(state, self.settings, self.scaling, self.fingerprint)
        if problem:
            raise ValueError(f"{path} {problem}; use a new out_dir")
        for name, module in self.model.named_children():
            module.load_state_dict(state["networks"][name])
        for k, o in self.optimisers.items():
            o.load_state_dict(state["optimisers"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(state["schedulers"][k])
        # a no-op unless fp16 (checkpoints written before fp16 existed have no entry)
        self.scaler.load_state_dict(state.get("grad_scaler", {}))
        torch.set_rng_state(state["rng"]["torch"])
        self.rng.bit_generator.state = state["rng"]["numpy"]
        return int(state["iteration"])


def resume_problem(
    state: dict, settings: GanSettings, scaling: DataScaling, fingerprint: str
) -> str | None:
    """Why checkpoint ``state`` cannot continue a run of ``settings`` on data of ``scaling`` and
    ``fingerprint`` (``data_fingerprint``)."""
    diff = mismatches(state["architecture"], settings.architecture())
    if diff:
        return f"was trained with another architecture: {'; '.join(diff)}"
    diff = mismatches(state["settings"], asdict(settings)) + mismatches(
        state["scaling"], asdict(scaling)
    )
    if diff:
        return f"came from other settings or data ({'; '.join(diff)})"
    if state.get("data_sha256") != fingerprint:
        return "was trained on other patches (their SHA-256 differs)"
    return None


def set_aside_other_run(
    out_dir: Path, settings: GanSettings, scaling: DataScaling, fingerprint: str
) -> Path | None:
    """Rename ``out_dir`` to ``<name>.superseded-<k>`` if its latest checkpoint cannot be resumed.

    It cannot when it was written under another workflow configuration (stale, see
    ``provenance``) or with other settings, architecture or data. Nothing is deleted: the old
    run keeps its checkpoints, losses and samples. Returns the new path, or None if nothing was
    moved (no checkpoint, or a resumable one).
    """
    last = latest_checkpoint(out_dir)
    if last is None:
        return None
    try:
        state = read_checkpoint(last)
    except ValueError as err:  # a file cut short by a crash or a full disk
        raise ValueError(
            f"{err}; delete it to resume from the checkpoint before it, or delete {out_dir} to "
            "start afresh"
        ) from None
    problem = input_problem(state) or resume_problem(state, settings, scaling, fingerprint)
    if problem is None:
        return None
    aside = next(
        path
        for k in itertools.count(1)
        if not (path := out_dir.with_name(f"{out_dir.name}.superseded-{k}")).exists()
    )
    out_dir.rename(aside)
    logging.warning(
        "%s: %s %s; the run is set aside as %s and training starts afresh",
        out_dir, last.name, problem, aside,
    )  # fmt: skip
    return aside
