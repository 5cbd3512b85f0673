"""Names, sizes and paths shared by the rule files (the Snakefile has validated the config)."""

from exp2simgan_core.config import VOLUME_GAN_KEYS, volume_gan_section, volume_spectrum_config
from exp2simgan_core.dataset import shard_sizes
from exp2simgan_core.provenance import config_value
from exp2simgan_core.vocabulary import CLASSES, DIRECTIONS, DOMAINS

REFERENCE_SIZES = {
    "experiment": config["simulation"]["n_experiment"],
    "negative_control": config["simulation"]["n_negative_control"],
    "rb2mnf4": config["simulation"]["n_rb2mnf4"],
}
SHARD_SIZES = shard_sizes(config["simulation"]["n_per_model"], config["simulation"]["shard_size"])
VOLUME_SHARD_SIZES = shard_sizes(config["volume"]["n_per_model"], config["volume"]["shard_size"])
USER_SPECTRA = {entry["name"]: entry["path"] for entry in config["user_spectra"]}

# Memory of the jobs that hold whole data sets: the arrays (MB) three times over (inputs, the
# concatenated or indexed copy, write buffers) plus the interpreter and libraries.
PAIR_MB = 8 * SETTINGS.layout.shape[0] * SETTINGS.layout.shape[1] / 1e6  # two float32 spectra
CLASS_MB = config["simulation"]["n_per_model"] * PAIR_MB
PATCH_MB = 9 * config["patches"]["size"] ** 2 / 1e6  # two float32 crops and a bool mask
SIMULATION_MEM_MB = 2000


def data_mem_mb(data_mb):
    return int(1000 + 3 * data_mb)


def recorded(*keys):
    """Params of a job that uses the configuration ``keys`` (sections or dotted sub-keys): the
    files it writes record their values (exp2simgan_core.provenance), and a change to any of
    them reruns it."""
    return {
        "config_sections": list(keys),
        "config_values": [config_value(config, k) for k in keys],
    }


SIMULATION_KEYS = ("simulation.spectrum", "simulation.n_per_model", "simulation.shard_size")
VOLUME_SPECTRUM_KEYS = (
    "n_per_model",
    "shard_size",
    "ei_mev",
    "chopper_hz",
    "n_pix",
    "n_e",
    "oversample",
)
VOLUME_SIMULATION_KEYS = ("simulation.spectrum", *(f"volume.{k}" for k in VOLUME_SPECTRUM_KEYS))
VOLUME_GAN = tuple(f"volume.{k}" for k in VOLUME_GAN_KEYS)


TRAIN = f"{DATA}/train.h5"
TEST = f"{DATA}/test.h5"
# Every data set the generators translate, by name: the held-out test pairs, the reference sets
# and the user's spectra (prefixed user_).
TRANSLATION_SOURCES = {
    "test": TEST,
    **{kind: f"{DATA}/reference/{kind}.h5" for kind in REFERENCE_SIZES},
    **{f"user_{name}": f"{DATA}/user/{name}.h5" for name in USER_SPECTRA},
}
# Far-away image sets (out of domain by construction) and the classification stage's names.
OOD_SIZES = {"digits": config["simulation"]["n_digits"], "photos": config["simulation"]["n_photos"]}
DUQ_DOMAINS = DOMAINS  # one classifier per domain
BASELINE_METHODS = ("richardson_lucy", "wiener")
BACK_TRANSLATION = config["back_translation"]["iterations"] > 0  # 2D Exp2Sim retrained
# Sets whose kernel values are reported raw and, except the far-away ones, GAN-deconvolved.
DECONVOLVED_SETS = [s for s in TRANSLATION_SOURCES if s != "test"]
# Sets measured against the training set: name -> (file, dataset; None = 'spectra').
APPLICABILITY_SOURCES = {
    "train": (TRAIN, "convolved"),  # features of the training spectra of each encoder's domain
    "test_convolved": (TEST, "convolved"),
    "test_unconvolved": (TEST, "unconvolved"),
    **{kind: (f"{DATA}/reference/{kind}.h5", None) for kind in REFERENCE_SIZES},
    **{s: (f"{DATA}/reference/{s}.h5", None) for s in OOD_SIZES},
    **{f"user_{name}": (f"{DATA}/user/{name}.h5", None) for name in USER_SPECTRA},
}
KERNEL_SOURCES = {
    **{s: TRANSLATION_SOURCES[s] for s in DECONVOLVED_SETS},
    **{s: f"{DATA}/reference/{s}.h5" for s in OOD_SIZES},
}


wildcard_constraints:
    model="|".join(CLASSES),
    kind="|".join(REFERENCE_SIZES),
    ood="|".join(OOD_SIZES),
    domain="|".join(DUQ_DOMAINS),
    method="|".join(BASELINE_METHODS),
    shard=r"\d{4}",
    name=r"[A-Za-z0-9_-]+",
    set="|".join(TRANSLATION_SOURCES),
    direction="|".join(DIRECTIONS),


def shard_files(wildcards):
    """The simulation shards of one model class, in shard order."""
    return expand(
        f"{DATA}/shards/{{model}}/shard_{{shard:04d}}.h5",
        model=wildcards.model,
        shard=range(len(SHARD_SIZES)),
    )


FIGURES = f"{RESULTS}/figures"
DUQ = f"{RESULTS}/duq"
BASELINE = f"{RESULTS}/baselines"


def figure_outputs(name, category):
    """PDF and PNG of one figure; the PNG goes into the HTML report."""
    return {
        "pdf": f"{FIGURES}/{name}.pdf",
        "png": report(
            f"{FIGURES}/{name}.png",
            caption=f"../report/figures/{name}.rst",
            category=category,
        ),
    }
