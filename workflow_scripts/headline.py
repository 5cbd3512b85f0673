"""The run's headline results beside the paper's (the README's table, via `make readme`)."""

from exp2simgan_core.headline import write_headline
from exp2simgan_core.jobs import start_job

start_job(snakemake)

write_headline(
    snakemake.input.accuracy,
    snakemake.input.verdicts,
    snakemake.input.quality,
    snakemake.input.single,
    snakemake.params.preset,
    snakemake.output[0],
)
