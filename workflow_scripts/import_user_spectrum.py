"""Check a user's measured spectrum and store it in the project's HDF5 format."""

import logging
import sys

from exp2simgan_core.dataset import import_user_spectrum

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

import_user_spectrum(
    snakemake.input[0],
    name=snakemake.wildcards.name,
    shape=tuple(snakemake.params.shape),
    out_path=snakemake.output[0],
)
