"""PSNR/SSIM of the GAN's translations and the baselines' deconvolutions of the test pairs."""

from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.translate import write_translation_quality

start_job(snakemake)

write_translation_quality(
    snakemake.input.test,
    [
        ("gan", "exp2sim", snakemake.input.exp2sim),
        ("gan", "sim2exp", snakemake.input.sim2exp),
        *(
            [("gan_without_back_translation", "exp2sim", snakemake.input.exp2sim_selected)]
            if snakemake.params.back_translation
            else []
        ),
        *(
            (method, "exp2sim", path)
            for method, path in zip(
                snakemake.params.methods, snakemake.input.baselines, strict=True
            )
        ),
    ],
    snakemake.output[0],
)
