"""Shared test setup.

Torch runs on one intra-op thread in the tests: the networks here are tiny, and on a small shared
CI machine torch's default of one thread per core makes them many times slower, not faster.
"""

import torch

torch.set_num_threads(1)
