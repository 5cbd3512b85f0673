"""Kernel values of the reference sets (raw and GAN-deconvolved) and their calibration."""

import logging
import sys

import torch

from exp2simgan_core.evaluation import write_kernel_tables

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)  # torch would use every core, whatever the job was given

write_kernel_tables(
    dict(zip(snakemake.params.domains, snakemake.input.classifiers, strict=True)),
    snakemake.input.test,
    dict(zip(snakemake.params.kernel_sets, snakemake.input.references, strict=True)),
    dict(zip(snakemake.params.deconvolved_sets, snakemake.input.translated, strict=True)),
    snakemake.output.kernels,
    snakemake.output.calibration,
)
