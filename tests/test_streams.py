import numpy as np
import pytest

from exp2simgan_core import streams


def draws(seed, name, *index):
    return streams.rng(seed, name, *index).integers(2**32, size=8)


def test_a_stream_is_fixed_by_seed_name_and_index():
    np.testing.assert_array_equal(draws(0, "dataset/split"), draws(0, "dataset/split"))
    np.testing.assert_array_equal(draws(5, "simulate/dimer", 3), draws(5, "simulate/dimer", 3))


@pytest.mark.parametrize(
    "other",
    [
        (1, "dataset/split"),
        (0, "dataset/patches"),
        (0, "dataset/split", 0),
        (0, "dataset/split", 1),
    ],
)
def test_another_seed_name_or_index_is_another_stream(other):
    assert not np.array_equal(draws(0, "dataset/split"), draws(*other))


def test_indices_are_not_a_shifted_copy_of_each_other():
    # shard i and shard i + 1 share no prefix of their draws
    first, second = draws(0, "simulate/goodenough", 0), draws(0, "simulate/goodenough", 1)
    assert not set(first) & set(second)


def test_torch_seed_is_a_valid_torch_seed_fixed_by_the_stream():
    import torch

    seed = streams.torch_seed(2, "gan/weights")
    assert 0 <= seed < 2**63 and seed == streams.torch_seed(2, "gan/weights")
    assert seed != streams.torch_seed(2, "duq/weights")
    torch.manual_seed(seed)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None])
def test_a_bad_seed_is_refused(seed):
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        streams.rng(seed, "dataset/split")
