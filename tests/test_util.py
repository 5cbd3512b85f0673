"""Shared helpers: atomic writes, evaluation mode, device names."""

import pytest
import torch

from exp2simgan_core.util import atomic_path, evaluating, resolve_device


def test_atomic_path_replaces_the_file_only_when_the_write_succeeds(tmp_path):
    target = tmp_path / "sub" / "table.csv"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target  # the folder is created
        tmp.write_text("first\n")
        assert not target.exists()  # nothing under the final name before the block ends
    assert target.read_text() == "first\n"
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half a ")
        raise RuntimeError("disk full")
    assert target.read_text() == "first\n"  # the previous file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.csv"]  # no temporary left


def test_evaluating_restores_the_previous_mode():
    module = torch.nn.Dropout(0.5)
    with evaluating(module):
        assert not module.training
    assert module.training
    module.eval()
    with pytest.raises(ValueError), evaluating(module):
        raise ValueError
    assert not module.training


def test_device_names_are_checked():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(ValueError, match="device must be one of"):
        resolve_device("tpu")
