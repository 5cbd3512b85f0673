"""File-level GAN stages used by the workflow: train from the patch file, keep the final state.

The training run lives in its own folder (``run_dir``: ``checkpoints/`` and ``losses.csv``) that the
workflow does not declare as an output, so a failed or killed job leaves it in place and the rerun
resumes from the latest checkpoint; the declared outputs are copies made once training completes.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exp2simgan_core.gan.losses import LOSS_WEIGHT_PRESETS
from exp2simgan_core.gan.networks import GENERATORS
from exp2simgan_core.gan.train import LOSS_LOG, GanSettings, train
from exp2simgan_core.io import check_writable, read_h5
from exp2simgan_core.physics.lswt import resolve_device

PATCH_DATASETS = ("convolved", "unconvolved")


def gan_settings(section: Mapping[str, Any], seed: int, dims: int = 2) -> GanSettings:
    """``GanSettings`` from the config's ``gan`` section (unknown keys raise ValueError)."""
    values = dict(section)
    values.pop("device", None)
    weights = values.pop("loss_weights", "paper_text")
    if weights not in LOSS_WEIGHT_PRESETS:
        raise ValueError(f"gan.loss_weights {weights!r} not in {sorted(LOSS_WEIGHT_PRESETS)}")
    names = {f.name for f in dataclasses.fields(GanSettings)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown gan key(s) {unknown}; allowed: {sorted(names)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    settings = GanSettings(
        **values, dims=dims, seed=seed, loss_weights=LOSS_WEIGHT_PRESETS[weights]
    )
    settings.validate()
    n_layers = GENERATORS[settings.generator](settings.generator_settings()).n_encoder_layers
    if max(settings.nce_layers) >= n_layers:
        raise ValueError(
            f"n_blocks={settings.n_blocks} gives encoder layers 0..{n_layers - 1}, but PatchNCE "
            f"uses layers {settings.nce_layers}: use n_blocks >= 5"
        )
    return settings


def train_from_patches(
    patches_path: str | Path,
    settings: GanSettings,
    run_dir: str | Path,
    final_checkpoint: str | Path,
    losses_csv: str | Path,
    device: str = "auto",
    progress: bool = True,
) -> None:
    """Train (or resume) on the patch file; copy the final checkpoint and loss log when done."""
    for out in (final_checkpoint, losses_csv):
        check_writable(out)
    data = read_h5(patches_path, required=PATCH_DATASETS)
    result = train(
        settings,
        data.datasets["convolved"],
        data.datasets["unconvolved"],
        Path(run_dir),
        progress,
        device=resolve_device(device),
    )
    if not result.completed or result.last_checkpoint is None:
        raise RuntimeError(f"training in {run_dir} stopped at iteration {result.iteration}")
    _copy_atomically(result.last_checkpoint, Path(final_checkpoint))
    _copy_atomically(Path(run_dir) / LOSS_LOG, Path(losses_csv))


def _copy_atomically(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copy2(source, tmp)
    os.replace(tmp, target)
