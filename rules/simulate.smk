"""Simulated spectra: sharded training pairs per model class, train/test split, reference sets."""


rule simulate_shard:
    output:
        f"{DATA}/shards/{{model}}/shard_{{shard}}.h5",
    log:
        f"{LOGS}/simulate_shard/{{model}}_{{shard}}.log",
    benchmark:
        f"{BENCHMARKS}/simulate_shard/{{model}}_{{shard}}.tsv"
    priority: 1  # the 2D GAN waits for every shard (see train_gan)
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1
    resources:
        mem_mb=SIMULATION_MEM_MB,
    params:
        **recorded("seed", *SIMULATION_KEYS),
        n_spectra=lambda wildcards: SHARD_SIZES[int(wildcards.shard)],
        seed=config["seed"],
        spectrum=config["simulation"]["spectrum"],
    script:
        "../workflow_scripts/simulate_shard.py"


rule merge_shards:
    input:
        shard_files,
    output:
        f"{DATA}/simulated_{{model}}.h5",
    log:
        f"{LOGS}/merge_shards/{{model}}.log",
    benchmark:
        f"{BENCHMARKS}/merge_shards/{{model}}.tsv"
    priority: 1  # on the 2D GAN's chain (see train_gan)
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1
    resources:
        mem_mb=data_mem_mb(CLASS_MB),
    script:
        "../workflow_scripts/merge_shards.py"


rule split_train_test:
    input:
        expand(f"{DATA}/simulated_{{model}}.h5", model=CLASSES),
    output:
        train=TRAIN,
        test=TEST,
    log:
        f"{LOGS}/split_train_test.log",
    benchmark:
        f"{BENCHMARKS}/split_train_test.tsv"
    priority: 1  # on the 2D GAN's chain (see train_gan)
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1
    resources:
        mem_mb=data_mem_mb(len(CLASSES) * CLASS_MB),
    params:
        **recorded("seed", "split"),
        test_fraction=config["split"]["test_fraction"],
        seed=config["seed"],
    script:
        "../workflow_scripts/split_train_test.py"


rule simulate_reference:
    output:
        f"{DATA}/reference/{{kind}}.h5",
    log:
        f"{LOGS}/simulate_reference/{{kind}}.log",
    benchmark:
        f"{BENCHMARKS}/simulate_reference/{{kind}}.tsv"
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1
    resources:
        mem_mb=SIMULATION_MEM_MB,
    params:
        **recorded(
            "seed",
            "simulation.spectrum",
            *(f"simulation.n_{kind}" for kind in REFERENCE_SIZES),
        ),
        n_spectra=lambda wildcards: REFERENCE_SIZES[wildcards.kind],
        seed=config["seed"],
        spectrum=config["simulation"]["spectrum"],
    script:
        "../workflow_scripts/simulate_reference.py"


rule import_user_spectrum:
    input:
        lambda wildcards: USER_SPECTRA[wildcards.name],
    output:
        f"{DATA}/user/{{name}}.h5",
    log:
        f"{LOGS}/import_user_spectrum/{{name}}.log",
    benchmark:
        f"{BENCHMARKS}/import_user_spectrum/{{name}}.tsv"
    conda:
        "../envs/exp2simgan.yaml"
    threads: 1
    resources:
        mem_mb=1000,
    params:
        **recorded("simulation.spectrum"),
        spectrum=config["simulation"]["spectrum"],
    script:
        "../workflow_scripts/import_user_spectrum.py"


rule data:
    input:
        TRAIN,
        TEST,
        expand(f"{DATA}/reference/{{kind}}.h5", kind=REFERENCE_SIZES),
        expand(f"{DATA}/user/{{name}}.h5", name=USER_SPECTRA),
