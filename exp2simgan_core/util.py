"""Small helpers shared by the stages: atomic writes, evaluation mode, torch devices."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEVICES = ("auto", "cpu", "cuda")
WORKFLOW_KEYS = ("device",)  # config keys that say where a stage runs, not what it computes


def resolve_device(device: str = "auto") -> str:
    """'cuda' when asked for or when ``auto`` finds a CUDA device, else 'cpu'.

    Raises ValueError for a name outside ``DEVICES`` and for 'cuda' without a CUDA device.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cpu":
        return device
    import torch  # only a device other than the CPU needs torch to be asked

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch finds no CUDA device")
    return device


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` (``os.replace``) when
    the block ends normally and is removed otherwise, so no reader sees a partial file and a
    failed write leaves the previous file untouched. The folder is created if missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def settings_from_config(cls: type, name: str, section: Mapping[str, Any], **fixed: Any) -> Any:
    """``cls(**section, **fixed)`` for a frozen settings dataclass and its config section ``name``.

    Lists become tuples, ``WORKFLOW_KEYS`` are left out, a key that is not a field of ``cls``
    raises ValueError naming the section and the allowed keys, and ``validate()`` runs where
    ``cls`` has it (``__post_init__`` checks run anyway). ``fixed``: fields from elsewhere, such
    as the run's seed.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in section.items()}
    values = {k: v for k, v in values.items() if k not in WORKFLOW_KEYS}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown {name} key(s) {unknown}; allowed: {sorted(names)}")
    settings = cls(**values, **fixed)
    if hasattr(settings, "validate"):
        settings.validate()
    return settings


@contextmanager
def evaluating(module: Any) -> Iterator[Any]:
    """A torch module in eval mode for the block, its previous mode restored afterwards."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
