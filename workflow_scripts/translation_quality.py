"""PSNR/SSIM of the GAN's translations and the baselines' deconvolutions of the test pairs."""

import logging
import sys

from exp2simgan_core.gan.pipeline import write_translation_quality

sys.stderr = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - open for the whole job
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")

write_translation_quality(
    snakemake.input.test,
    [
        ("gan", "exp2sim", snakemake.input.exp2sim),
        ("gan", "sim2exp", snakemake.input.sim2exp),
        *(
            (method, "exp2sim", path)
            for method, path in zip(
                snakemake.params.methods, snakemake.input.baselines, strict=True
            )
        ),
    ],
    snakemake.output[0],
)
