"""Concatenate the simulation shards of one model class."""

from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.simulate import merge_shards

start_job(snakemake)

merge_shards(list(snakemake.input), snakemake.output[0])
