"""Check a user's measured spectrum and store it in the project's HDF5 format."""

from exp2simgan_core.dataset import import_user_spectrum
from exp2simgan_core.jobs import start_job

start_job(snakemake)

import_user_spectrum(
    snakemake.input[0],
    name=snakemake.wildcards.name,
    shape=tuple(snakemake.params.shape),
    out_path=snakemake.output[0],
)
