"""Distances of every set to the training set in both directions; zones; the summary table."""

import logging
import sys

import torch

from exp2simgan_core.applicability import ApplicabilitySettings
from exp2simgan_core.applicability_stage import write_applicability
from exp2simgan_core.physics.lswt import resolve_device

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)  # torch would use every core, whatever the job was given

write_applicability(
    snakemake.input.checkpoint,
    snakemake.input.train,
    snakemake.params.sources,
    ApplicabilitySettings(**snakemake.params.settings, seed=snakemake.params.seed),
    dict(zip(("exp2sim", "sim2exp"), snakemake.output.distances, strict=True)),
    snakemake.output.table,
    snakemake.output.zones,
    device=resolve_device(snakemake.params.device),
)
