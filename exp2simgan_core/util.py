"""Small helpers shared by the stages: atomic writes, evaluation mode, torch devices."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEVICES = ("auto", "cpu", "cuda")


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


@contextmanager
def evaluating(module: Any) -> Iterator[Any]:
    """A torch module in eval mode for the block, its previous mode restored afterwards."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
