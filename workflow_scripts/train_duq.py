"""Train the DUQ classifier on one domain of the training spectra."""

from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.classify import duq_settings, train_classifier

start_job(snakemake, uses_torch=True)

train_classifier(
    snakemake.input[0],
    snakemake.wildcards.domain,
    duq_settings(snakemake.params.duq, snakemake.params.seed),
    snakemake.output.checkpoint,
    snakemake.output.history,
    device=snakemake.params.duq["device"],
)
