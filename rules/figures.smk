"""Every figure as a named target (``snakemake fig4``), written as PDF and PNG."""

ESI_DIRECTIONS = {"esi_c": "exp2sim", "esi_d": "sim2exp"}  # applicability with each direction


rule fig2:
    input:
        experiment=f"{DATA}/reference/experiment.h5",
        test=TEST,
    output:
        **figure_outputs("fig2", "Figures"),
    log:
        f"{LOGS}/figures/fig2.log",
    conda:
        "../envs/exp2simgan.yaml"
    script:
        "../workflow_scripts/figures.py"


rule fig4:
    input:
        test=TEST,
        deconvolved=f"{TRANSLATED}/test_exp2sim.h5",
        accuracy=rules.accuracy.output.csv,
        checkpoint=TRANSLATOR,
    output:
        **figure_outputs("fig4", "Figures"),
    log:
        f"{LOGS}/figures/fig4.log",
    conda:
        "../envs/exp2simgan.yaml"
    script:
        "../workflow_scripts/figures.py"


rule energy_cuts:
    input:
        test=TEST,
        gan=f"{TRANSLATED}/test_exp2sim.h5",
        baselines=expand(f"{BASELINE}/test_{{method}}.h5", method=BASELINE_METHODS),
        quality=rules.translation_quality.output[0],
        volume_test=VOLUME_TEST,
        gan3d=f"{TRANSLATED}/volume_test_exp2sim.h5",
        quality3d=rules.translation_quality_3d.output[0],
        checkpoint=TRANSLATOR,
    output:
        **figure_outputs("energy_cuts", "Figures"),
    log:
        f"{LOGS}/figures/energy_cuts.log",
    conda:
        "../envs/exp2simgan.yaml"
    params:
        methods=BASELINE_METHODS,
    script:
        "../workflow_scripts/figures.py"


rule fig5:
    input:
        experiment=f"{DATA}/reference/experiment.h5",
        experiment_deconvolved=f"{TRANSLATED}/experiment_exp2sim.h5",
        negative_control=f"{DATA}/reference/negative_control.h5",
        negative_control_deconvolved=f"{TRANSLATED}/negative_control_exp2sim.h5",
        kernels=rules.duq_kernels.output.kernels,
        distances=f"{APPLICABILITY}/exp2sim.h5",
        checkpoint=TRANSLATOR,
    output:
        **figure_outputs("fig5", "Figures"),
    log:
        f"{LOGS}/figures/fig5.log",
    conda:
        "../envs/exp2simgan.yaml"
    script:
        "../workflow_scripts/figures.py"


rule fig6:
    input:
        test=VOLUME_TEST,
        exp2sim=f"{TRANSLATED}/volume_test_exp2sim.h5",
        sim2exp=f"{TRANSLATED}/volume_test_sim2exp.h5",
        checkpoint=rules.select_gan3d.output.checkpoint,
    output:
        **figure_outputs("fig6", "Figures"),
    log:
        f"{LOGS}/figures/fig6.log",
    conda:
        "../envs/exp2simgan.yaml"
    script:
        "../workflow_scripts/figures.py"


rule esi_b:
    input:
        test=TEST,
        convolved_gan=f"{TRANSLATED}/test_sim2exp.h5",
        checkpoint=TRANSLATOR,
    output:
        **figure_outputs("esi_b", "Figures"),
    log:
        f"{LOGS}/figures/esi_b.log",
    conda:
        "../envs/exp2simgan.yaml"
    script:
        "../workflow_scripts/figures.py"


rule esi_applicability:
    input:
        distances=lambda w: f"{APPLICABILITY}/{ESI_DIRECTIONS[w.esi]}.h5",
        checkpoint=rules.select_gan.output.checkpoint,  # whose encoder gives the features
    output:
        pdf=f"{FIGURES}/{{esi}}.pdf",
        png=report(
            f"{FIGURES}/{{esi}}.png",
            caption="../report/figures/esi_applicability.rst",
            category="Figures",
        ),
    log:
        f"{LOGS}/figures/{{esi}}.log",
    wildcard_constraints:
        esi="|".join(ESI_DIRECTIONS),
    conda:
        "../envs/exp2simgan.yaml"
    script:
        "../workflow_scripts/figures.py"


rule training:
    input:
        losses=rules.train_gan.output.losses,
        selection=rules.select_gan.output.table,
        checkpoint=rules.select_gan.output.checkpoint,
    output:
        **figure_outputs("training", "Exp2SimGAN"),
    log:
        f"{LOGS}/figures/training.log",
    conda:
        "../envs/exp2simgan.yaml"
    script:
        "../workflow_scripts/figures.py"


rule data_overview:
    input:
        expand(f"{DATA}/simulated_{{model}}.h5", model=CLASSES),
    output:
        **figure_outputs("data_overview", "Data"),
    log:
        f"{LOGS}/figures/data_overview.log",
    conda:
        "../envs/exp2simgan.yaml"
    params:
        models=CLASSES,
    script:
        "../workflow_scripts/figures.py"


rule esi_c:
    input:
        expand(f"{FIGURES}/esi_c.{{ext}}", ext=("pdf", "png")),


rule esi_d:
    input:
        expand(f"{FIGURES}/esi_d.{{ext}}", ext=("pdf", "png")),


rule headline:
    input:
        accuracy=rules.accuracy.output.csv,
        verdicts=rules.duq_kernels.output.verdicts,
        quality=rules.translation_quality.output[0],
        single=rules.applicability.output.alone,
    output:
        report(
            f"{TABLES}/headline.md",
            caption="../report/headline.rst",
            category="Classification",
        ),
    log:
        f"{LOGS}/headline.log",
    conda:
        "../envs/exp2simgan.yaml"
    params:
        preset=config["preset"],
    script:
        "../workflow_scripts/headline.py"


rule figures:
    input:
        rules.headline.output,
        rules.fig2.output,
        rules.fig4.output,
        rules.energy_cuts.output,
        rules.fig5.output,
        rules.fig6.output,
        rules.esi_b.output,
        rules.training.output,
        rules.data_overview.output,
        expand(f"{FIGURES}/{{esi}}.{{ext}}", esi=ESI_DIRECTIONS, ext=("pdf", "png")),
