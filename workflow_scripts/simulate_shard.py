"""Simulate one shard of convolved/unconvolved training pairs of one model class."""

from exp2simgan_core.jobs import start_job
from exp2simgan_core.simulate import SimulationSettings
from exp2simgan_core.stages.simulate import simulate_shard

start_job(snakemake)

simulate_shard(
    model=snakemake.wildcards.model,
    n_spectra=snakemake.params.n_spectra,
    seed=snakemake.params.seed,
    shard=int(snakemake.wildcards.shard),
    settings=SimulationSettings.from_config(snakemake.params.spectrum),
    out_path=snakemake.output[0],
)
