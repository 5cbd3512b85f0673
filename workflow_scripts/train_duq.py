"""Train the DUQ classifier on one domain of the training spectra."""

import logging
import sys

import torch

from exp2simgan_core.evaluation import duq_settings, train_classifier
from exp2simgan_core.physics.lswt import resolve_device

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)  # torch would use every core, whatever the job was given

train_classifier(
    snakemake.input[0],
    snakemake.wildcards.domain,
    duq_settings(snakemake.params.duq, snakemake.params.seed),
    snakemake.output.checkpoint,
    snakemake.output.history,
    device=resolve_device(snakemake.params.duq["device"]),
)
