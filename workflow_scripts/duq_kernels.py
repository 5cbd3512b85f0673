"""Kernel values of the reference sets (raw and GAN-deconvolved) and their calibration."""

from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.classify import write_kernel_tables

start_job(snakemake, uses_torch=True)

write_kernel_tables(
    dict(zip(snakemake.params.domains, snakemake.input.classifiers, strict=True)),
    snakemake.input.test,
    dict(zip(snakemake.params.kernel_sets, snakemake.input.references, strict=True)),
    dict(zip(snakemake.params.deconvolved_sets, snakemake.input.translated, strict=True)),
    snakemake.output.kernels,
    snakemake.output.calibration,
    snakemake.output.verdicts,
)
