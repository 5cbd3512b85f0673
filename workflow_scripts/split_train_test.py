"""Split the simulated spectra of all model classes into train and test sets."""

import logging
import sys

from exp2simgan_core.dataset import split_train_test

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

split_train_test(
    list(snakemake.input),
    snakemake.output.train,
    snakemake.output.test,
    test_fraction=snakemake.params.test_fraction,
    seed=snakemake.params.seed,
)
