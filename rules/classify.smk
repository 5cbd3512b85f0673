"""DUQ classifiers, classical deconvolution baselines, the accuracy table and kernel values."""


rule ood_set:
    input:
        TRAIN,
    output:
        f"{DATA}/reference/{{ood}}.h5",
    log:
        f"{LOGS}/ood_set/{{ood}}.log",
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1
    resources:
        mem_mb=data_mem_mb(len(CLASSES) * CLASS_MB),
    params:
        **recorded("seed", "simulation.spectrum", "simulation.n_digits", "simulation.n_photos"),
        n=lambda w: OOD_SIZES[w.ood],
        seed=config["seed"],
    script:
        "../workflow_scripts/ood_set.py"


rule train_duq:
    input:
        TRAIN,
    output:
        checkpoint=f"{DUQ}/{{domain}}.pt",
        history=f"{DUQ}/{{domain}}_history.csv",
    log:
        f"{LOGS}/train_duq/{{domain}}.log",
    benchmark:
        f"{BENCHMARKS}/train_duq/{{domain}}.tsv"
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1  # torch: one intra-op thread (docs/cluster.md: --set-threads)
    resources:
        mem_mb=data_mem_mb(len(CLASSES) * CLASS_MB),
    params:
        **recorded("seed", "duq"),
        duq=config["duq"],
        seed=config["seed"],
    script:
        "../workflow_scripts/train_duq.py"


rule deconvolve_baseline:
    input:
        TEST,
    output:
        f"{BASELINE}/test_{{method}}.h5",
    log:
        f"{LOGS}/deconvolve_baseline/{{method}}.log",
    benchmark:
        f"{BENCHMARKS}/deconvolve_baseline/{{method}}.tsv"
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1
    resources:
        mem_mb=data_mem_mb(2 * len(CLASSES) * CLASS_MB),
    params:
        **recorded("simulation.spectrum", "baselines"),
        baselines=config["baselines"],
    script:
        "../workflow_scripts/deconvolve_baseline.py"


rule accuracy:
    input:
        classifiers=expand(f"{DUQ}/{{domain}}.pt", domain=DUQ_DOMAINS),
        test=TEST,
        evaluated=[
            f"{TRANSLATED}/test_exp2sim.h5",
            f"{TRANSLATED}/test_sim2exp.h5",
            *expand(f"{BASELINE}/test_{{method}}.h5", method=BASELINE_METHODS),
        ],
    output:
        csv=report(
            f"{TABLES}/accuracy.csv", caption="../report/accuracy.rst", category="Classification"
        ),
        markdown=f"{TABLES}/accuracy.md",
    log:
        f"{LOGS}/accuracy.log",
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1  # torch: one intra-op thread (docs/cluster.md: --set-threads)
    resources:
        mem_mb=data_mem_mb(4 * len(CLASSES) * CLASS_MB),
    params:
        domains=DUQ_DOMAINS,
        evaluated=["gan_deconvolved", "gan_convolved", *BASELINE_METHODS],
    script:
        "../workflow_scripts/accuracy.py"


# The rows that need no GAN (each classifier on each domain's test spectra): the domain gap.
use rule accuracy as accuracy_domains with:
    input:
        classifiers=expand(f"{DUQ}/{{domain}}.pt", domain=DUQ_DOMAINS),
        test=TEST,
        evaluated=[],
    output:
        csv=f"{TABLES}/accuracy_domains.csv",
        markdown=f"{TABLES}/accuracy_domains.md",
    log:
        f"{LOGS}/accuracy_domains.log",
    params:
        domains=DUQ_DOMAINS,
        evaluated=[],


rule duq_kernels:
    input:
        classifiers=expand(f"{DUQ}/{{domain}}.pt", domain=DUQ_DOMAINS),
        test=TEST,
        references=list(KERNEL_SOURCES.values()),
        translated=[f"{TRANSLATED}/{s}_exp2sim.h5" for s in DECONVOLVED_SETS],
    output:
        kernels=report(
            f"{TABLES}/duq_experiment.csv",
            caption="../report/duq_experiment.rst",
            category="Classification",
        ),
        calibration=report(
            f"{TABLES}/duq_calibration.csv",
            caption="../report/duq_calibration.rst",
            category="Classification",
        ),
        verdicts=report(
            f"{TABLES}/duq_verdicts.csv",
            caption="../report/duq_verdicts.rst",
            category="Classification",
        ),
    log:
        f"{LOGS}/duq_kernels.log",
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1  # torch: one intra-op thread (docs/cluster.md: --set-threads)
    resources:
        mem_mb=data_mem_mb(2 * len(CLASSES) * CLASS_MB),
    params:
        domains=DUQ_DOMAINS,
        kernel_sets=list(KERNEL_SOURCES),
        deconvolved_sets=DECONVOLVED_SETS,
    script:
        "../workflow_scripts/duq_kernels.py"


rule classification:
    input:
        rules.accuracy.output,
        rules.duq_kernels.output,
