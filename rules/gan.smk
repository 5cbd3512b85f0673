"""Exp2SimGAN (2D): training on the patches (resumable), model selection, translation."""

GAN = f"{RESULTS}/gan2d"


rule train_gan:
    input:
        f"{DATA}/patches.h5",
    output:
        checkpoint=f"{GAN}/final.pt",
        losses=f"{GAN}/losses.csv",
    log:
        f"{LOGS}/train_gan.log",
    benchmark:
        f"{BENCHMARKS}/train_gan.tsv"
    conda:
        "../envs/exp2simgan.yaml"
    threads: 2
    resources:
        mem_mb=8000,
    params:
        gan=config["gan"],
        seed=config["seed"],
        run_dir=f"{GAN}/run",  # checkpoints live here, outside the outputs: kept on failure
    script:
        "../workflow_scripts/train_gan.py"


rule gan:
    input:
        rules.train_gan.output,
