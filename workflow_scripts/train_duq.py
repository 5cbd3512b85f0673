"""Train the DUQ classifier on one domain of the training spectra."""

from exp2simgan_core.duq import DuqSettings
from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.classify import train_classifier

start_job(snakemake, uses_torch=True)

train_classifier(
    snakemake.input[0],
    snakemake.wildcards.domain,
    DuqSettings.from_config(snakemake.params.duq, snakemake.params.seed),
    snakemake.output.checkpoint,
    snakemake.output.history,
    device=snakemake.params.duq["device"],
)
