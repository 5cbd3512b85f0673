"""Checks of the workflow configuration whose messages name the offending key.

The Snakefile runs these before any job: ``check_config`` against ``config/schema.yaml`` (unknown
keys, types, ranges), then ``check_consistency`` for what a JSON schema cannot express (a patch
larger than a spectrum, two user spectra with one name, a user file that is missing or unreadable).
``run_config`` runs the same checks on config files outside Snakemake (``exp2simgan
check-config``, ``exp2simgan plan``, the benchmarks), where a malformed YAML file is reported
with its name and line (Snakemake's own message for it names neither).
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from exp2simgan_core.gan.settings import GanSettings
from exp2simgan_core.io import DataFileError
from exp2simgan_core.physics.layout import Layout2D, Layout3D
from exp2simgan_core.simulate import SimulationSettings
from exp2simgan_core.user_spectra import read_user_spectrum

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"  # config.yaml, schema.yaml, presets


class ConfigError(ValueError):
    """The configuration is invalid; the message lists every problem, each with its key."""


def load_schema(path: str | Path) -> dict[str, Any]:
    """The JSON schema (YAML syntax) at ``path``."""
    with open(path) as f:
        return yaml.safe_load(f)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping in the YAML file ``path``; ConfigError naming the file (and line) if it is
    missing, not YAML, or not a mapping of keys at its top level."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the config file ({err.strerror})") from None
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys (seed: ..., simulation: ...), "
            f"got a {type(config).__name__}"
        )
    return config


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``override``, nested mappings merged key by key (as Snakemake does)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def filled(config: Any, schema: Mapping[str, Any]) -> Any:
    """``config`` with the schema's defaults filled in, as Snakemake's ``validate`` fills them:
    a missing property gets its ``default``, and filling continues inside present mappings and
    list items."""
    if isinstance(config, Mapping):
        properties = schema.get("properties", {})
        out = {k: copy.deepcopy(p["default"]) for k, p in properties.items() if "default" in p}
        out.update(config)
        return {k: filled(v, properties.get(k, {})) for k, v in out.items()}
    if isinstance(config, list):
        return [filled(item, schema.get("items", {})) for item in config]
    return config


def run_config(*files: str | Path) -> dict[str, Any]:
    """The configuration of a run given ``--configfile files...``: ``config/config.yaml`` with
    each file laid over it in order, checked as the Snakefile checks it, with the schema's
    defaults filled in. Raises ConfigError naming the files and the line or keys."""
    config = load_config_file(CONFIG_DIR / "config.yaml")
    for path in files:
        config = merged(config, load_config_file(path))
    schema = load_schema(CONFIG_DIR / "schema.yaml")
    try:
        check_config(config, schema)
        config = filled(config, schema)
        check_consistency(config, spectrum_settings(config).layout)
    except ConfigError as err:
        raise ConfigError(f"{', '.join(map(str, files))}: {err}") from None
    return config


def key_path(parts: Sequence[str | int]) -> str:
    """Dotted key of a config entry, e.g. ``simulation.shard_size`` or ``user_spectra[0].path``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _describe(error: jsonschema.ValidationError) -> list[str]:
    """Messages for one schema violation; unknown keys get one message each, with a suggestion."""
    where = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = sorted(error.schema.get("properties", {}))
        messages = []
        for key in sorted(set(error.instance) - set(allowed)):
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
            messages.append(f"{key_path([*where, key])}: unknown key; {hint}")
        return messages
    return [f"{key_path(where)}: {error.message}"]


def _not_finite(value: Any, where: list[str | int]) -> list[str]:
    """A message for each NaN or infinite number in ``value`` (YAML's .nan and .inf), which JSON
    schema ranges let through: no setting of the workflow takes one."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{key_path(where)}: must be a finite number, got {value}"]
    if isinstance(value, Mapping):
        return [m for k, v in value.items() for m in _not_finite(v, [*where, k])]
    if isinstance(value, list):
        return [m for i, v in enumerate(value) for m in _not_finite(v, [*where, i])]
    return []


def config_errors(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """Every violation of ``schema`` by ``config``, and every NaN or infinite number, one message
    per problem, sorted by key."""
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    messages = [m for error in validator.iter_errors(config) for m in _describe(error)]
    return sorted(messages + _not_finite(config, []))


def check_config(config: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    """Raise ``ConfigError`` naming each key of ``config`` that violates ``schema``."""
    messages = config_errors(config, schema)
    if messages:
        raise ConfigError(_report(messages))


def in_schema_order(config: Any, schema: Mapping[str, Any]) -> Any:
    """``config`` with the keys of every mapping in the order of the schema's properties.

    Snakemake compares rule parameters as written, so a config file that lists the same values in
    another order would otherwise rerun every job that takes a config section as a parameter.
    """
    if isinstance(config, Mapping):
        order = list(schema.get("properties", {}))
        keys = sorted(config, key=lambda k: order.index(k) if k in order else len(order))
        return {
            k: in_schema_order(config[k], schema.get("properties", {}).get(k, {})) for k in keys
        }
    if isinstance(config, list):
        return [in_schema_order(item, schema.get("items", {})) for item in config]
    return config


# The volume section's GAN keys: their schema is the gan section's ($ref); they override it.
VOLUME_GAN_KEYS = (
    "ngf", "ndf", "n_layers_d", "crop_size", "n_epochs_constant", "n_epochs_decay",
    "checkpoint_every", "lowpass_weight",
)  # fmt: skip


def volume_spectrum_config(config: Mapping[str, Any]) -> dict:
    """The ``simulation.spectrum``-style section of the 3D volumes (for SimulationSettings)."""
    volume, spectrum = config["volume"], config["simulation"]["spectrum"]
    layout = {k: volume[k] for k in ("ei_mev", "chopper_hz", "n_pix", "n_e")}
    return {
        **{k: v for k, v in spectrum.items() if k not in ("layout", "oversample")},
        "oversample": volume["oversample"],
        "layout": {**layout, "dims": 3},
    }


def volume_gan_section(config: Mapping[str, Any]) -> dict:
    """The ``gan`` section with the 3D run's widths, crop, epochs, checkpoint interval and low-pass
    weight."""
    return {**config["gan"], **{k: config["volume"][k] for k in VOLUME_GAN_KEYS}}


def check_consistency(config: Mapping[str, Any], layout: Layout2D | Layout3D) -> None:
    """Raise ``ConfigError`` for valid-looking values that cannot work together.

    ``config`` must have passed ``check_config``; ``layout`` is the configured spectrum layout
    (a user spectrum in the paper's 240 x 400 layout is rebinned into it). Each user spectrum is
    loaded and checked here, so that a bad file stops the run before hours of simulation.
    """
    messages = []
    size = config["patches"]["size"]
    spectrum_shape = layout.shape
    if size > min(spectrum_shape):
        messages.append(
            f"patches.size: {size} is larger than a spectrum of this layout "
            f"({spectrum_shape[0]} x {spectrum_shape[1]} pixels); use at most {min(spectrum_shape)}"
        )
    crop = config["gan"]["crop_size"]
    if crop > size:
        messages.append(f"gan.crop_size: {crop} is larger than patches.size ({size})")
    try:
        GanSettings.from_config(config["gan"], config["seed"])
    except ValueError as err:
        messages.append(f"gan: {err}")
    volume = config["volume"]
    side = min(volume["n_pix"], volume["n_e"])
    if volume["patch_size"] > side:
        messages.append(
            f"volume.patch_size: {volume['patch_size']} is larger than a volume "
            f"({volume['n_pix']} x {volume['n_pix']} x {volume['n_e']} bins); use at most {side}"
        )
    if volume["crop_size"] > volume["patch_size"]:
        messages.append(
            f"volume.crop_size: {volume['crop_size']} is larger than volume.patch_size "
            f"({volume['patch_size']})"
        )
    try:
        SimulationSettings.from_config(volume_spectrum_config(config))
    except ValueError as err:
        messages.append(f"volume (spectrum): {err}")
    try:
        GanSettings.from_config(volume_gan_section(config), config["seed"], dims=3)
    except ValueError as err:
        messages.append(f"volume: {err}")
    weights = config["model_selection"]["inception_weights"]
    if weights is not None:
        from exp2simgan_core.gan.select import load_inception  # torch: only when a file is named

        try:
            load_inception(weights)
        except ValueError as err:
            messages.append(f"model_selection.inception_weights: {err}")
    seen: set[str] = set()
    for i, entry in enumerate(config["user_spectra"]):
        if entry["name"] in seen:
            messages.append(f"user_spectra[{i}].name: '{entry['name']}' is used twice")
        seen.add(entry["name"])
        try:
            read_user_spectrum(entry["path"], layout)
        except DataFileError as err:
            messages.append(f"user_spectra[{i}].path: {err}")
    if messages:
        raise ConfigError(_report(messages))


def _report(messages: list[str]) -> str:
    return "invalid configuration:\n" + "\n".join(f"  {m}" for m in messages)


def spectrum_settings(config: Mapping[str, Any]) -> SimulationSettings:
    """``SimulationSettings`` of ``config['simulation']['spectrum']``; errors name the key."""
    try:
        return SimulationSettings.from_config(config["simulation"]["spectrum"])
    except ValueError as err:
        raise ConfigError(_report([f"simulation.spectrum: {err}"])) from None
