"""Far-away images (digits or photographs) in the layout's shape: out of domain by construction."""

from exp2simgan_core.config import spectrum_settings
from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.classify import write_ood_set

start_job(snakemake)

write_ood_set(
    snakemake.wildcards.ood,
    snakemake.params.n,
    spectrum_settings(snakemake.config).layout,
    snakemake.input[0],
    snakemake.params.seed,
    snakemake.output[0],
)
