"""Translation of every data set in both directions with the selected generator, and its quality."""


rule translate:
    input:
        checkpoint=rules.select_gan.output.checkpoint,
        spectra=lambda w: TRANSLATION_SOURCES[w.set],
    output:
        f"{TRANSLATED}/{{set}}_{{direction}}.h5",
    log:
        f"{LOGS}/translate/{{set}}_{{direction}}.log",
    benchmark:
        f"{BENCHMARKS}/translate/{{set}}_{{direction}}.tsv"
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1  # torch: one intra-op thread (see README: --set-threads)
    resources:
        mem_mb=data_mem_mb(len(MODEL_CLASSES) * CLASS_MB),
    params:
        config_sections=["gan"],
        device=config["gan"]["device"],
    script:
        "../workflow_scripts/translate.py"


rule translation_quality:
    input:
        test=TEST,
        exp2sim=f"{TRANSLATED}/test_exp2sim.h5",
        sim2exp=f"{TRANSLATED}/test_sim2exp.h5",
        baselines=expand(f"{RESULTS}/baselines/test_{{method}}.h5", method=BASELINE_METHODS),
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
        mem_mb=data_mem_mb(2 * len(MODEL_CLASSES) * CLASS_MB),
    params:
        methods=BASELINE_METHODS,
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
