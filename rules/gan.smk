"""Exp2SimGAN (2D): training on the patches (resumable), checkpoint selection, back-translation."""

GAN = f"{RESULTS}/gan2d"
GAN_RUN = f"{GAN}/run"  # checkpoints live here, outside the outputs: kept on failure


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
    priority: 1  # the run's longest chain: started before the 3D GAN and the classifiers
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1  # torch: one intra-op thread (docs/cluster.md: --set-threads)
    resources:
        mem_mb=8000,
    params:
        **recorded("seed", "gan"),
        gan=config["gan"],
        dims=2,
        seed=config["seed"],
        run_dir=GAN_RUN,
    script:
        "../workflow_scripts/train_gan.py"


rule select_gan:
    input:
        final=rules.train_gan.output.checkpoint,
        data=TRAIN,
    output:
        checkpoint=f"{GAN}/selected.pt",
        table=report(
            f"{TABLES}/gan_selection.csv",
            caption="../report/gan_selection.rst",
            category="Exp2SimGAN",
        ),
    log:
        f"{LOGS}/select_gan.log",
    benchmark:
        f"{BENCHMARKS}/select_gan.tsv"
    priority: 1
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1  # torch: one intra-op thread (docs/cluster.md: --set-threads)
    resources:
        mem_mb=data_mem_mb(len(CLASSES) * CLASS_MB),
    params:
        **recorded("seed", "gan", "model_selection"),
        run_dir=GAN_RUN,
        max_spectra=config["model_selection"]["spectra"],
        seed=config["seed"],
        device=config["gan"]["device"],
        inception_weights=config["model_selection"]["inception_weights"],
    script:
        "../workflow_scripts/select_gan.py"


rule back_translate_gan:
    input:
        checkpoint=rules.select_gan.output.checkpoint,
        data=TRAIN,
    output:
        # The generators every later stage uses: selected.pt's, with the Exp2Sim one trained on
        # Sim2Exp pseudo-pairs when back_translation.iterations > 0 (else a copy).
        checkpoint=f"{GAN}/translator.pt",
        losses=f"{GAN}/back_translation_losses.csv",
    log:
        f"{LOGS}/back_translate_gan.log",
    benchmark:
        f"{BENCHMARKS}/back_translate_gan.tsv"
    # Without back-translation a copy: run where Snakemake runs, no cluster job or GPU.
    localrule: not BACK_TRANSLATION
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1  # torch: one intra-op thread (docs/cluster.md: --set-threads)
    resources:
        mem_mb=data_mem_mb(2 * len(CLASSES) * CLASS_MB),
    params:
        **recorded("seed", "gan", "back_translation"),
        settings=config["back_translation"],
        seed=config["seed"],
        device=config["gan"]["device"],
    script:
        "../workflow_scripts/back_translate_gan.py"


TRANSLATOR = rules.back_translate_gan.output.checkpoint


rule gan:
    input:
        rules.train_gan.output,
        rules.select_gan.output,
        rules.back_translate_gan.output,
