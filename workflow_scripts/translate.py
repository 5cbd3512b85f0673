"""Translate one data set in one direction with the selected generator."""

import logging
import sys

import torch

from exp2simgan_core.gan.pipeline import translate_file

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)  # torch would use every core, whatever the job was given

translate_file(
    snakemake.input.checkpoint,
    snakemake.wildcards.direction,
    snakemake.input.spectra,
    snakemake.output[0],
    device=snakemake.params.device,
)
