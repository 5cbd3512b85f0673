"""Far-away images (digits or photographs) in the layout's shape: out of domain by construction."""

import logging
import sys

from exp2simgan_core.config import spectrum_settings
from exp2simgan_core.evaluation import write_ood_set

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

write_ood_set(
    snakemake.wildcards.ood,
    snakemake.params.n,
    spectrum_settings(snakemake.config).layout,
    snakemake.input[0],
    snakemake.params.seed,
    snakemake.output[0],
)
