"""Deconvolve the convolved test spectra with a classical method (Richardson-Lucy or Wiener)."""

from exp2simgan_core.baselines import BaselineSettings
from exp2simgan_core.config import spectrum_settings
from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.classify import deconvolve_baseline

start_job(snakemake)

settings = spectrum_settings(snakemake.config)
deconvolve_baseline(
    snakemake.wildcards.method,
    snakemake.input[0],
    settings.layout,
    snakemake.output[0],
    BaselineSettings.from_config(snakemake.params.baselines, settings.spectrum),
)
