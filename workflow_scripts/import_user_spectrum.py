"""Check a user's spectrum (a 240 x 400 one rebinned into the run's layout), store it as HDF5."""

from exp2simgan_core.jobs import start_job
from exp2simgan_core.simulate import SimulationSettings
from exp2simgan_core.stages.simulate import import_user_spectrum

start_job(snakemake)

import_user_spectrum(
    snakemake.input[0],
    name=snakemake.wildcards.name,
    layout=SimulationSettings.from_config(snakemake.params.spectrum).layout,
    out_path=snakemake.output[0],
)
