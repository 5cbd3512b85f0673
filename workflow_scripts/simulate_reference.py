"""Simulate one reference set: pseudo-experiment, negative control or Rb2MnF4."""

import logging
import sys

from exp2simgan_core.simulate import SimulationSettings, simulate_reference_set

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

simulate_reference_set(
    kind=snakemake.wildcards.kind,
    n_spectra=snakemake.params.n_spectra,
    seed=snakemake.params.seed,
    settings=SimulationSettings.from_config(snakemake.params.spectrum),
    out_path=snakemake.output[0],
)
