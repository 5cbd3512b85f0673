"""Train (or resume) Exp2SimGAN on the patches; copy the final checkpoint and loss log."""

from exp2simgan_core.gan.settings import GanSettings
from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.gan import train_from_patches

start_job(snakemake, uses_torch=True)

train_from_patches(
    snakemake.input[0],
    GanSettings.from_config(snakemake.params.gan, snakemake.params.seed, snakemake.params.dims),
    snakemake.params.run_dir,
    snakemake.output.checkpoint,
    snakemake.output.losses,
    device=snakemake.params.gan["device"],
)
