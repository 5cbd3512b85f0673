"""PSNR/SSIM of both translations of the held-out test pairs, per model class."""

import logging
import sys

from exp2simgan_core.gan.pipeline import write_translation_quality

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

write_translation_quality(
    snakemake.input.test,
    {"exp2sim": snakemake.input.exp2sim, "sim2exp": snakemake.input.sim2exp},
    snakemake.output[0],
)
