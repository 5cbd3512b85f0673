"""Exp2SimGAN reproduction workflow (README.md; stages in rules/, configuration in config/)."""

import os

from snakemake.utils import min_version, validate

from exp2simgan_core.config import (
    check_config,
    check_consistency,
    in_schema_order,
    load_schema,
    spectrum_settings,
)

min_version("9.0")


configfile: f"{workflow.basedir}/config/config.yaml"


# Before any job: a readable error naming each unknown key or bad value, then the standard
# validation (which also fills defaults), then the checks a schema cannot express.
SCHEMA_PATH = f"{workflow.basedir}/config/schema.yaml"
SCHEMA = load_schema(SCHEMA_PATH)
check_config(config, SCHEMA)
validate(config, SCHEMA_PATH)
config.update(in_schema_order(config, SCHEMA))  # key order of the schema: see in_schema_order
SETTINGS = spectrum_settings(config)
check_consistency(config, SETTINGS.layout)

# Jobs import exp2simgan_core from this checkout, whichever environment runs them (the
# project's venv, or a per-rule conda environment built from envs/exp2simgan.yaml).
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [workflow.basedir, os.environ.get("PYTHONPATH")]))
)

RESULTS = f"results/{config['preset']}"
DATA = f"{RESULTS}/data"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
TABLES = f"{RESULTS}/tables"
TRANSLATED = f"{RESULTS}/translated"
APPLICABILITY = f"{RESULTS}/applicability"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/simulate.smk"
include: "rules/patches.smk"
include: "rules/gan.smk"
include: "rules/translate.smk"
include: "rules/classify.smk"
include: "rules/applicability.smk"
include: "rules/volume.smk"
include: "rules/figures.smk"


rule all:
    default_target: True
    input:
        rules.data.input,
        rules.patches.input,
        rules.gan.input,
        rules.translations.input,
        rules.classification.input,
        rules.applicability.output,
        rules.volumes.input,
        rules.figures.input,
