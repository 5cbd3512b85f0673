"""Random aligned crops of the training pairs, the GAN's training data."""


rule extract_patches:
    input:
        TRAIN,
    output:
        f"{DATA}/patches.h5",
    log:
        f"{LOGS}/extract_patches.log",
    benchmark:
        f"{BENCHMARKS}/extract_patches.tsv"
    priority: 1  # on the 2D GAN's chain (see train_gan)
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1
    resources:
        mem_mb=data_mem_mb(
            len(CLASSES) * CLASS_MB + PATCH_MB * config["patches"]["n_patches"],
        ),
    params:
        **recorded("seed", "patches"),
        n_patches=config["patches"]["n_patches"],
        size=config["patches"]["size"],
        seed=config["seed"],
    script:
        "../workflow_scripts/extract_patches.py"


rule patches:
    input:
        rules.extract_patches.output,
