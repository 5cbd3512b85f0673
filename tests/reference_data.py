"""The read-only reference data beside the checkout (``../shared/data``; its README says what
each file is), for the tests that compare with it.

The project never reads these files. A clone elsewhere has no ``../shared/data`` at all: the tests
that need it skip, naming the test and the folder. Where the folder is present, a missing file is a
failure (a misspelt name, an incomplete copy), never a skip.
"""

import os
from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def reference_path(name: str) -> Path:
    """The path of ``name`` under ``../shared/data``.

    The calling test skips if the folder is absent and fails if the folder lacks the file.
    """
    path = SHARED_DATA / name
    test = os.environ.get("PYTEST_CURRENT_TEST", "this test").split(" ")[0]
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"{test} compares with {name} in the read-only reference folder {SHARED_DATA}, which "
            "is absent: it lives beside the checkout, outside the project, and a clone elsewhere "
            "has none"
        )
    if not path.is_file():
        pytest.fail(f"{test}: the reference folder {SHARED_DATA} is present but lacks {name}")
    return path


def load_reference(name: str) -> np.ndarray:
    """``np.load`` of a reference ``.npy`` file (see :func:`reference_path`)."""
    return np.load(reference_path(name))
