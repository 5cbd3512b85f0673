"""Simulate one shard of convolved/unconvolved training pairs of one model class."""

import logging
import sys

from exp2simgan_core.simulate import SimulationSettings, simulate_shard

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

simulate_shard(
    model=snakemake.wildcards.model,
    n_spectra=snakemake.params.n_spectra,
    seed=snakemake.params.seed,
    shard=int(snakemake.wildcards.shard),
    settings=SimulationSettings.from_config(snakemake.params.spectrum),
    out_path=snakemake.output[0],
)
