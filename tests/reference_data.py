"""The read-only reference data beside the checkout (``../shared/data``; its README says what
each file is), for the tests that compare with it.

The project never reads these files: a clone elsewhere has none, and the tests that need one skip,
naming the file.
"""

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def reference_path(name: str) -> Path:
    """The path of ``name`` under ``../shared/data``; the calling test skips if it is absent."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(
            f"reference data {path} is absent: the reference files live in ../shared/data beside "
            "the checkout, outside the project, and a clone elsewhere has none to compare with"
        )
    return path


def load_reference(name: str) -> np.ndarray:
    """``np.load`` of a reference ``.npy`` file; the calling test skips if it is absent."""
    return np.load(reference_path(name))
