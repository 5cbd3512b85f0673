"""Crop random aligned patches of the training pairs for GAN training."""

from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.patches import extract_patches

start_job(snakemake)

extract_patches(
    snakemake.input[0],
    snakemake.output[0],
    n_patches=snakemake.params.n_patches,
    size=snakemake.params.size,
    seed=snakemake.params.seed,
)
