"""Named random streams: every random choice of the workflow draws from one of them.

A stream is named by a path such as ``"simulate/goodenough"`` or ``"dataset/split"`` and, where a
stage draws many independent streams of one kind, integer indices (a shard number). It is
``numpy.random.SeedSequence(seed, spawn_key=(key(name), *index))``, ``key`` being the first 8
bytes of the SHA-256 of the name, so the config's one ``seed`` fixes every draw, a rerun is
bitwise identical, no two names or indices share a stream, and adding a stream changes no other.
torch's global generator is seeded from a stream too (``torch_seed``).
"""

from __future__ import annotations

import hashlib

import numpy as np


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def rng(seed: int, name: str, *index: int) -> np.random.Generator:
    """The generator of stream ``name`` (with optional integer ``index``) under ``seed``."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    key = (_key(name), *(int(i) for i in index))
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))


def torch_seed(seed: int, name: str) -> int:
    """A seed for ``torch.manual_seed`` drawn from stream ``name`` (0 <= value < 2**63)."""
    return int(rng(seed, name).integers(2**63))
