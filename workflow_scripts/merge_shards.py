"""Concatenate the simulation shards of one model class."""

from exp2simgan_core.dataset import merge_shards
from exp2simgan_core.jobs import start_job

start_job(snakemake)

merge_shards(list(snakemake.input), snakemake.output[0])
