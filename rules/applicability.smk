"""Applicability domain: Sinkhorn distances of every set to the training set, calibrated zones."""


rule applicability:
    input:
        checkpoint=rules.select_gan.output.checkpoint,
        train=TRAIN,
        test=TEST,
        sets=[path for path, _ in APPLICABILITY_SOURCES.values()],
    output:
        distances=expand(f"{APPLICABILITY}/{{direction}}.h5", direction=DIRECTIONS),
        table=report(
            f"{TABLES}/applicability.csv",
            caption="../report/applicability.rst",
            category="Applicability",
        ),
        zones=f"{TABLES}/applicability_zones.json",
        alone=report(
            f"{TABLES}/applicability_single.csv",
            caption="../report/applicability_single.rst",
            category="Applicability",
        ),
    log:
        f"{LOGS}/applicability.log",
    benchmark:
        f"{BENCHMARKS}/applicability.tsv"
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1  # torch: one intra-op thread (docs/cluster.md: --set-threads)
    resources:
        mem_mb=data_mem_mb(3 * len(CLASSES) * CLASS_MB),
    params:
        **recorded("seed", "gan", "applicability"),
        sources=APPLICABILITY_SOURCES,
        alone=[*REFERENCE_SIZES, *(f"user_{name}" for name in USER_SPECTRA)],
        settings=config["applicability"],
        seed=config["seed"],
        device=config["gan"]["device"],
    script:
        "../workflow_scripts/applicability.py"
