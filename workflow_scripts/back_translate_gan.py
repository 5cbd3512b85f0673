"""Train the Exp2Sim generator on the selected Sim2Exp generator's pseudo-pairs (or copy it)."""

from exp2simgan_core.gan.back_translation import BackTranslationSettings
from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.gan import back_translate_checkpoint

start_job(snakemake, uses_torch=True)

back_translate_checkpoint(
    snakemake.input.checkpoint,
    snakemake.input.data,
    snakemake.output.checkpoint,
    snakemake.output.losses,
    BackTranslationSettings.from_config(snakemake.params.settings, snakemake.params.seed),
    device=snakemake.params.device,
)
