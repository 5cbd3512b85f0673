"""The accuracy table of the paper, with the classical baselines, as CSV and Markdown."""

from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.classify import write_accuracy_table

start_job(snakemake, uses_torch=True)

write_accuracy_table(
    dict(zip(snakemake.params.domains, snakemake.input.classifiers, strict=True)),
    snakemake.input.test,
    dict(zip(snakemake.params.evaluated, snakemake.input.evaluated, strict=True)),
    snakemake.output.csv,
    snakemake.output.markdown,
)
