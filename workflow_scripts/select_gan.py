"""Score every saved checkpoint by the Frechet distance; keep the best as selected.pt."""

from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.gan import select_from_run

start_job(snakemake, uses_torch=True)

select_from_run(
    snakemake.params.run_dir,
    snakemake.input.data,
    snakemake.output.checkpoint,
    snakemake.output.table,
    max_spectra=snakemake.params.max_spectra,
    seed=snakemake.params.seed,
    device=snakemake.params.device,
    inception_weights=snakemake.params.inception_weights,
)
