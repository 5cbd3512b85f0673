"""Concatenate the simulation shards of one model class."""

import logging
import sys

from exp2simgan_core.dataset import merge_shards

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

merge_shards(list(snakemake.input), snakemake.output[0])
