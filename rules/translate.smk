"""Translation of every data set in both directions (the translator checkpoint), and its quality."""


rule translate:
    input:
        checkpoint=TRANSLATOR,
        spectra=lambda w: TRANSLATION_SOURCES[w.set],
    output:
        f"{TRANSLATED}/{{set}}_{{direction}}.h5",
    log:
        f"{LOGS}/translate/{{set}}_{{direction}}.log",
    benchmark:
        f"{BENCHMARKS}/translate/{{set}}_{{direction}}.tsv"
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1  # torch: one intra-op thread (docs/cluster.md: --set-threads)
    resources:
        mem_mb=data_mem_mb(len(CLASSES) * CLASS_MB),
    params:
        **recorded("gan"),
        direction=lambda w: w.direction,
        device=config["gan"]["device"],
    script:
        "../workflow_scripts/translate.py"


rule translate_test_selected:
    # The GAN's own Exp2Sim (before back-translation), for the quality table only.
    input:
        checkpoint=rules.select_gan.output.checkpoint,
        spectra=TEST,
    output:
        f"{TRANSLATED}/test_exp2sim_selected.h5",
    log:
        f"{LOGS}/translate/test_exp2sim_selected.log",
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1
    resources:
        mem_mb=data_mem_mb(len(CLASSES) * CLASS_MB),
    params:
        **recorded("gan"),
        direction="exp2sim",
        device=config["gan"]["device"],
    script:
        "../workflow_scripts/translate.py"


rule translation_quality:
    input:
        test=TEST,
        exp2sim=f"{TRANSLATED}/test_exp2sim.h5",
        sim2exp=f"{TRANSLATED}/test_sim2exp.h5",
        exp2sim_selected=(rules.translate_test_selected.output[0] if BACK_TRANSLATION else []),
        baselines=expand(f"{BASELINE}/test_{{method}}.h5", method=BASELINE_METHODS),
    output:
        report(
            f"{TABLES}/translation_quality.csv",
            caption="../report/translation_quality.rst",
            category="Exp2SimGAN",
        ),
    log:
        f"{LOGS}/translation_quality.log",
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1
    resources:
        mem_mb=data_mem_mb(2 * len(CLASSES) * CLASS_MB),
    params:
        methods=BASELINE_METHODS,
        back_translation=BACK_TRANSLATION,
    script:
        "../workflow_scripts/translation_quality.py"


rule translations:
    input:
        expand(
            f"{TRANSLATED}/{{set}}_{{direction}}.h5",
            set=TRANSLATION_SOURCES,
            direction=DIRECTIONS,
        ),
        rules.translation_quality.output,
