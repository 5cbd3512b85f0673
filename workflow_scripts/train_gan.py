"""Train (or resume) Exp2SimGAN on the patches; copy the final checkpoint and loss log."""

import logging
import sys

import torch

from exp2simgan_core.gan.pipeline import gan_settings, train_from_patches

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)  # torch would use every core, whatever the job was given

train_from_patches(
    snakemake.input[0],
    gan_settings(snakemake.params.gan, snakemake.params.seed, snakemake.params.dims),
    snakemake.params.run_dir,
    snakemake.output.checkpoint,
    snakemake.output.losses,
    device=snakemake.params.gan["device"],
)
