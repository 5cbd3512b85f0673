"""Split the simulated spectra of all model classes into train and test sets."""

from exp2simgan_core.jobs import start_job
from exp2simgan_core.stages.simulate import split_train_test

start_job(snakemake)

split_train_test(
    list(snakemake.input),
    snakemake.output.train,
    snakemake.output.test,
    test_fraction=snakemake.params.test_fraction,
    seed=snakemake.params.seed,
)
