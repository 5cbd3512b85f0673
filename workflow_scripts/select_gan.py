"""Score every saved checkpoint by the Frechet distance; keep the best as selected.pt."""

import logging
import sys

import torch

from exp2simgan_core.gan.pipeline import select_from_run

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(snakemake.threads)  # torch would use every core, whatever the job was given

select_from_run(
    snakemake.params.run_dir,
    snakemake.input.data,
    snakemake.output.checkpoint,
    snakemake.output.table,
    max_spectra=snakemake.params.max_spectra,
    seed=snakemake.params.seed,
    device=snakemake.params.device,
)
