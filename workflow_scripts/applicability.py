"""Distances of every set to the training set in both directions; zones; the summary table."""

from exp2simgan_core.applicability import ApplicabilitySettings
from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.applicability import write_applicability
from exp2simgan_core.vocabulary import DIRECTIONS

start_job(snakemake, uses_torch=True)

write_applicability(
    snakemake.input.checkpoint,
    snakemake.input.train,
    snakemake.params.sources,
    ApplicabilitySettings.from_config(snakemake.params.settings, snakemake.params.seed),
    dict(zip(DIRECTIONS, snakemake.output.distances, strict=True)),
    snakemake.output.table,
    snakemake.output.zones,
    device=snakemake.params.device,
    alone=snakemake.params.alone,
    alone_csv=snakemake.output.alone,
)
