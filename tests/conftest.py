"""Shared test setup.

Torch runs on one intra-op thread in the tests: the networks here are tiny, and on a small shared
CI machine torch's default of one thread per core makes them many times slower, not faster.

``make test`` runs the tests on parallel workers (pytest-xdist, ``--dist loadgroup``). Tests that
share an expensive module fixture run on one worker, so it is built once: every test that uses
the smoke preset's real run (``smoke_run``), and the SLURM cluster's tests (one cluster).
"""

import pytest
import torch

torch.set_num_threads(1)

SHARED_FIXTURES = ("smoke_run",)  # module-scoped runs that their tests must share


def pytest_collection_modifyitems(items):
    for item in items:
        shared = [name for name in SHARED_FIXTURES if name in item.fixturenames]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
