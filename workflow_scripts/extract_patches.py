"""Crop random aligned patches of the training pairs for GAN training."""

import logging
import sys

from exp2simgan_core.dataset import extract_patches

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

extract_patches(
    snakemake.input[0],
    snakemake.output[0],
    n_patches=snakemake.params.n_patches,
    size=snakemake.params.size,
    seed=snakemake.params.seed,
)
