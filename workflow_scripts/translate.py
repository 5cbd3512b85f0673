"""Translate one data set in one direction with the rule's checkpoint."""

from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.translate import translate_file

start_job(snakemake, uses_torch=True)

translate_file(
    snakemake.input.checkpoint,
    snakemake.params.direction,
    snakemake.input.spectra,
    snakemake.output[0],
    device=snakemake.params.device,
)
