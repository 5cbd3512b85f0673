"""Simulate one reference set: pseudo-experiment, negative control or Rb2MnF4."""

from exp2simgan_core.jobs import start_job
from exp2simgan_core.simulate import SimulationSettings
from exp2simgan_core.stages.simulate import simulate_reference_set

start_job(snakemake)

simulate_reference_set(
    kind=snakemake.wildcards.kind,
    n_spectra=snakemake.params.n_spectra,
    seed=snakemake.params.seed,
    settings=SimulationSettings.from_config(snakemake.params.spectrum),
    out_path=snakemake.output[0],
)
