"""The accuracy table of the paper, with the classical baselines, as CSV and Markdown."""

import logging
import sys

import torch

from exp2simgan_core.evaluation import write_accuracy_table

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)  # torch would use every core, whatever the job was given

write_accuracy_table(
    dict(zip(snakemake.params.domains, snakemake.input.classifiers, strict=True)),
    snakemake.input.test,
    {
        "gan_deconvolved": snakemake.input.gan_deconvolved,
        "gan_convolved": snakemake.input.gan_convolved,
        **dict(zip(snakemake.params.methods, snakemake.input.baselines, strict=True)),
    },
    snakemake.output.csv,
    snakemake.output.markdown,
)
