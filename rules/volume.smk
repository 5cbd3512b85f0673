"""The 3D variant: the data, patch and GAN rules of the images, reused for (H, K, E) volumes."""

VOLUME_DATA = f"{RESULTS}/volume"
VOLUME_TRAIN = f"{VOLUME_DATA}/train.h5"
VOLUME_TEST = f"{VOLUME_DATA}/test.h5"
GAN3D = f"{RESULTS}/gan3d"


use rule simulate_shard as simulate_volume_shard with:
    output:
        f"{VOLUME_DATA}/shards/{{model}}/shard_{{shard}}.h5",
    log:
        f"{LOGS}/simulate_volume_shard/{{model}}_{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/simulate_volume_shard/{{model}}_{{shard}}.tsv"
    priority: 0
    params:
        **recorded("seed", *VOLUME_SIMULATION_KEYS),
        n_spectra=lambda wildcards: VOLUME_SHARD_SIZES[int(wildcards.shard)],
        seed=config["seed"],
        spectrum=volume_spectrum_config(config),


use rule merge_shards as merge_volumes with:
    input:
        lambda w: expand(
            f"{VOLUME_DATA}/shards/{{model}}/shard_{{shard:04d}}.h5",
            model=w.model,
            shard=range(len(VOLUME_SHARD_SIZES)),
        ),
    output:
        f"{VOLUME_DATA}/simulated_{{model}}.h5",
    log:
        f"{LOGS}/merge_volumes/{{model}}.log",
    benchmark:
        f"{BENCHMARKS}/merge_volumes/{{model}}.tsv"


use rule split_train_test as split_volumes with:
    input:
        expand(f"{VOLUME_DATA}/simulated_{{model}}.h5", model=CLASSES),
    output:
        train=VOLUME_TRAIN,
        test=VOLUME_TEST,
    log:
        f"{LOGS}/split_volumes.log",
    benchmark:
        f"{BENCHMARKS}/split_volumes.tsv"


use rule extract_patches as extract_volume_patches with:
    input:
        VOLUME_TRAIN,
    output:
        f"{VOLUME_DATA}/patches.h5",
    log:
        f"{LOGS}/extract_volume_patches.log",
    benchmark:
        f"{BENCHMARKS}/extract_volume_patches.tsv"
    params:
        **recorded("seed", "volume.n_patches", "volume.patch_size"),
        n_patches=config["volume"]["n_patches"],
        size=config["volume"]["patch_size"],
        seed=config["seed"],


use rule train_gan as train_gan3d with:
    input:
        f"{VOLUME_DATA}/patches.h5",
    output:
        checkpoint=f"{GAN3D}/final.pt",
        losses=f"{GAN3D}/losses.csv",
    log:
        f"{LOGS}/train_gan3d.log",
    benchmark:
        f"{BENCHMARKS}/train_gan3d.tsv"
    priority: 0
    params:
        **recorded("seed", "gan", *VOLUME_GAN),
        gan=volume_gan_section(config),
        dims=3,
        seed=config["seed"],
        run_dir=f"{GAN3D}/run",


use rule select_gan as select_gan3d with:
    input:
        final=rules.train_gan3d.output.checkpoint,
        data=VOLUME_TRAIN,
    output:
        checkpoint=f"{GAN3D}/selected.pt",
        table=report(
            f"{TABLES}/gan3d_selection.csv",
            caption="../report/gan_selection.rst",
            category="Exp2SimGAN 3D",
        ),
    log:
        f"{LOGS}/select_gan3d.log",
    benchmark:
        f"{BENCHMARKS}/select_gan3d.tsv"
    priority: 0
    params:
        **recorded("seed", "gan", *VOLUME_GAN, "model_selection"),
        run_dir=f"{GAN3D}/run",
        max_spectra=config["model_selection"]["spectra"],
        seed=config["seed"],
        device=config["gan"]["device"],
        inception_weights=None,  # InceptionV3 reads 2D images: encoder features in 3D


use rule translate as translate_volumes with:
    input:
        checkpoint=rules.select_gan3d.output.checkpoint,
        spectra=VOLUME_TEST,
    output:
        f"{TRANSLATED}/volume_test_{{direction}}.h5",
    log:
        f"{LOGS}/translate_volumes/{{direction}}.log",
    benchmark:
        f"{BENCHMARKS}/translate_volumes/{{direction}}.tsv"
    params:
        **recorded("gan", *VOLUME_GAN),
        direction=lambda w: w.direction,
        device=config["gan"]["device"],


use rule translation_quality as translation_quality_3d with:
    input:
        test=VOLUME_TEST,
        exp2sim=f"{TRANSLATED}/volume_test_exp2sim.h5",
        sim2exp=f"{TRANSLATED}/volume_test_sim2exp.h5",
        exp2sim_selected=[],
        baselines=[],
    output:
        report(
            f"{TABLES}/translation_quality_3d.csv",
            caption="../report/translation_quality.rst",
            category="Exp2SimGAN 3D",
        ),
    log:
        f"{LOGS}/translation_quality_3d.log",
    params:
        methods=[],
        back_translation=False,  # 2D only


rule volumes:
    input:
        rules.select_gan3d.output,
        rules.translation_quality_3d.output,
