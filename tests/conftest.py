"""Shared test setup.

Torch runs on one intra-op thread in the tests: the networks here are tiny, and on a small shared
CI machine torch's default of one thread per core makes them many times slower, not faster.

``make test`` runs the test files on parallel workers (pytest-xdist, ``--dist loadfile``): each
file runs whole, in order, on one worker, so a module fixture (the smoke preset's real run, the
SLURM test cluster) is built once.
"""

import torch

torch.set_num_threads(1)
