"""The configuration schema, the presets, and the messages that name a bad key."""

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from snakemake.utils import validate

from exp2simgan_core.config import (
    VOLUME_GAN_KEYS,
    ConfigError,
    check_config,
    check_consistency,
    config_errors,
    in_schema_order,
    load_schema,
    merged,
    run_config,
    spectrum_settings,
    volume_gan_section,
)
from exp2simgan_core.gan.settings import GanSettings
from exp2simgan_core.simulate import SimulationSettings

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "config" / "schema.yaml"
PRESETS = ("config", "demo", "smoke")


def preset(name):
    with open(ROOT / "config" / f"{name}.yaml") as f:
        return yaml.safe_load(f)


def with_defaults(config):
    config = copy.deepcopy(config)
    validate(config, str(SCHEMA))
    return config


def errors(config):
    return config_errors(config, load_schema(SCHEMA))


@pytest.mark.parametrize("name", PRESETS)
def test_presets_are_valid_and_build_settings(name):
    config = with_defaults(preset(name))
    assert errors(config) == []
    settings = spectrum_settings(config)
    assert settings.layout.shape[0] >= config["patches"]["size"]
    assert config["preset"] == ("paper" if name == "config" else name)


def test_the_3d_gan_takes_its_own_low_pass_weight():
    config = with_defaults(preset("smoke"))  # the preset whose two weights differ
    assert GanSettings.from_config(config["gan"], 0).loss_weights.lowpass == 10
    volume = GanSettings.from_config(volume_gan_section(config), 0, dims=3)
    assert (volume.loss_weights.lowpass, volume.crop_size) == (1, config["volume"]["crop_size"])


def test_the_3d_gan_keys_are_those_whose_schema_is_the_gan_sections():
    """Each 3D GAN key takes its type and range from the 2D key of the same name, and those
    are exactly the keys volume_gan_section lays over the gan section."""
    schema = load_schema(SCHEMA)
    volume = schema["properties"]["volume"]["properties"]
    referring = {k for k, p in volume.items() if "$ref" in p}
    assert referring == set(VOLUME_GAN_KEYS)
    for key in referring:
        assert volume[key]["$ref"] == f"#/properties/gan/properties/{key}"
        assert key in schema["properties"]["gan"]["properties"]
    bad = {"volume": {"checkpoint_every": 0, "lowpass_weight": -1}}
    assert sorted(m.split(":")[0] for m in config_errors(bad, schema)) == [
        "volume.checkpoint_every",
        "volume.lowpass_weight",
    ]


def test_paper_preset_is_the_schema_defaults_and_the_code_defaults():
    defaults = with_defaults({})
    assert with_defaults(preset("config")) == defaults
    assert spectrum_settings(defaults) == SimulationSettings()
    assert spectrum_settings(defaults).layout.shape == (240, 400)


def test_the_settings_classes_default_to_the_schema():
    """config/schema.yaml is where defaults live; the dataclasses' own equal them."""
    from exp2simgan_core.applicability import ApplicabilitySettings
    from exp2simgan_core.baselines import BaselineSettings
    from exp2simgan_core.duq import DuqSettings
    from exp2simgan_core.gan.back_translation import BackTranslationSettings
    from exp2simgan_core.gan.settings import GanSettings

    defaults = with_defaults({})
    assert GanSettings.from_config(defaults["gan"], seed=0) == GanSettings()
    assert DuqSettings.from_config(defaults["duq"], seed=0) == DuqSettings(seed=0)
    assert (
        ApplicabilitySettings.from_config(defaults["applicability"], 0) == ApplicabilitySettings()
    )
    spectrum = spectrum_settings(defaults).spectrum
    assert BaselineSettings.from_config(defaults["baselines"], spectrum) == BaselineSettings()
    back = BackTranslationSettings.from_config(defaults["back_translation"], 0)
    assert back == BackTranslationSettings()


def test_every_schema_enum_lists_its_registry():
    """A choice offered in the schema is one the code has, and every choice the code has is
    offered: each enum equals the keys of the registry that resolves it."""
    from exp2simgan_core.dataset import INTENSITY_SCALES
    from exp2simgan_core.gan.losses import ADVERSARIAL_LOSSES
    from exp2simgan_core.gan.networks import DISCRIMINATORS, GENERATORS
    from exp2simgan_core.gan.settings import LOSS_WEIGHT_PRESETS, PRECISIONS
    from exp2simgan_core.physics.spectra import CONVENTIONS, UNCONVOLVED
    from exp2simgan_core.util import DEVICES

    registries = {
        "simulation.spectrum.convention": CONVENTIONS,
        "simulation.spectrum.unconvolved": UNCONVOLVED,
        "simulation.spectrum.device": DEVICES,
        "gan.generator": GENERATORS,
        "gan.discriminator": DISCRIMINATORS,
        "gan.gan_mode": ADVERSARIAL_LOSSES,
        "gan.loss_weights": LOSS_WEIGHT_PRESETS,
        "gan.precision": PRECISIONS,
        "gan.device": DEVICES,
        "duq.device": DEVICES,
        "duq.intensity_scale": INTENSITY_SCALES,
    }
    enums = {}

    def walk(node, where):
        if "enum" in node:
            enums[".".join(where)] = node["enum"]
        for key, child in node.get("properties", {}).items():
            walk(child, [*where, key])

    walk(load_schema(SCHEMA), [])
    assert sorted(enums) == sorted(registries)  # no enum without a registry to check it against
    for key, registry in registries.items():
        assert sorted(enums[key]) == sorted(registry), key


def test_every_schema_entry_is_described_typed_and_defaulted():
    def walk(node, where):
        assert "description" in node, f"{where}: no description"
        assert "type" in node or "$ref" in node, f"{where}: no type (nor one by reference)"
        if "$ref" in node:
            return  # typed where it points
        if node["type"] == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{where}: accepts unknown keys"
            for key, child in node["properties"].items():
                walk(child, f"{where}.{key}")
        if node["type"] == "array" and node["items"].get("type") == "object":
            walk({"description": "item", **node["items"]}, f"{where}[]")

    schema = load_schema(SCHEMA)
    walk(schema, "config")
    for key, child in schema["properties"].items():
        assert "default" in child, f"{key}: no default"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["simulation"].update(n_per_modle=3),
            "simulation.n_per_modle: unknown key; did you mean 'n_per_model'?",
        ),
        (lambda c: c.update(sead=1), "sead: unknown key; did you mean 'seed'?"),
        (
            lambda c: c["simulation"].update(n_per_model=-5),
            "simulation.n_per_model: -5 is less than",
        ),
        (
            lambda c: c["split"].update(test_fraction=1.0),
            "split.test_fraction: 1.0 is greater than",
        ),
        (
            lambda c: c["simulation"]["spectrum"].update(convention="matlab"),
            "simulation.spectrum.convention: 'matlab' is not one of ['physical', 'horace']",
        ),
        (
            lambda c: c["simulation"]["spectrum"]["layout"].update(n_pix="16"),
            "simulation.spectrum.layout.n_pix: '16' is not of type 'integer'",
        ),
        (
            lambda c: c.update(user_spectra=[{"name": "a b", "path": "x.npy"}]),
            "user_spectra[0].name: 'a b' does not match",
        ),
        (
            lambda c: c.update(user_spectra=[{"name": "mine"}]),
            "user_spectra[0]: 'path' is a required property",
        ),
    ],
)
def test_bad_config_messages_name_the_key(edit, message):
    config = preset("smoke")
    edit(config)
    with pytest.raises(ConfigError) as err:
        check_config(config, load_schema(SCHEMA))
    assert message in str(err.value)


def test_all_problems_are_reported_at_once():
    config = preset("smoke")
    config["seed"] = -1
    config["patches"]["sise"] = 3
    assert len(errors(config)) == 2


def test_settings_errors_name_the_section():
    config = with_defaults(preset("smoke"))
    config["simulation"]["spectrum"]["oversample"] = 2
    with pytest.raises(ConfigError, match=r"simulation\.spectrum: .*oversample"):
        spectrum_settings(config)


def test_consistency_checks_patch_size_and_user_spectra(tmp_path):
    config = with_defaults(preset("smoke"))
    shape = spectrum_settings(config).layout.shape
    assert shape == (16, 80)
    good = tmp_path / "good.npy"
    np.save(good, np.ones(shape))
    paper_layout = tmp_path / "measured_240x400.npy"  # rebinned into the smoke layout
    np.save(paper_layout, np.ones((240, 400)))
    config["user_spectra"] = [
        {"name": "mine", "path": str(good)},
        {"name": "measured", "path": str(paper_layout)},
    ]
    check_consistency(config, spectrum_settings(config).layout)

    config["patches"]["size"] = 17
    config["user_spectra"] += [
        {"name": "mine", "path": str(good)},
        {"name": "other", "path": str(tmp_path / "absent.npy")},
    ]
    with pytest.raises(ConfigError) as err:
        check_consistency(config, spectrum_settings(config).layout)
    text = str(err.value)
    assert "patches.size: 17 is larger than a spectrum of this layout (16 x 80 pixels)" in text
    assert "user_spectra[2].name: 'mine' is used twice" in text
    assert "user_spectra[3].path:" in text and "absent.npy: no such file" in text


def test_schema_order_makes_equal_configs_identical():
    config = with_defaults(preset("smoke"))
    shuffled = yaml.safe_load(yaml.safe_dump(config, sort_keys=True))
    assert list(shuffled["simulation"]) != list(config["simulation"])  # sorted differs
    schema = load_schema(SCHEMA)
    a, b = in_schema_order(config, schema), in_schema_order(shuffled, schema)
    assert repr(a) == repr(b)
    assert list(a["simulation"]["spectrum"]["layout"])[:2] == ["n_pix", "n_ebins"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["gan"].update(crop_size=20), "gan.crop_size: 20 is larger than patches.size"),
        (lambda c: c["gan"].update(n_blocks=2), "use n_blocks >= 5"),
        (
            lambda c: c["gan"].update(n_epochs_constant=0, n_epochs_decay=0),
            r"n_epochs_constant \+ n_epochs_decay must be >= 1 \(no training\), got 0 \+ 0",
        ),
        (
            lambda c: c["volume"].update(n_epochs_constant=0, n_epochs_decay=0),
            r"volume: n_epochs_constant \+ n_epochs_decay must be >= 1",
        ),
        (lambda c: c["gan"].update(crop_size=14), "crop_size 14 must be a multiple of 4"),
        (lambda c: c["volume"].update(oversample=2), r"volume \(spectrum\): .*oversample"),
        (
            lambda c: c["model_selection"].update(inception_weights="absent/pt_inception.pth"),
            r"model_selection.inception_weights: InceptionV3 weights file .*pt_inception.pth not",
        ),
    ],
)
def test_gan_settings_that_cannot_work_are_refused_before_any_job(edit, message):
    config = with_defaults(preset("smoke"))
    edit(config)
    with pytest.raises(ConfigError, match=message):
        check_consistency(config, spectrum_settings(config).layout)


def check_file(path):
    return run_config(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seed: 0\nsimulation: [unclosed\n", r"not valid YAML at line 3, column 1: expected ','"),
        (
            "seed: 0\n\tsimulation: {}\n",
            r"not valid YAML at line 2, column 1: found character '\\t'",
        ),
        ("- 1\n- 2\n", "the top level must be a mapping of keys"),
        ("simulation:\n  n_per_modle: 3\n", r"simulation\.n_per_modle: unknown key"),
        ("patches: {size: 100000}\n", r"patches\.size: 100000 is larger than a spectrum"),
        (  # the resolution model's range, checked before any job (resins is read later)
            "simulation: {spectrum: {layout: {chopper_hz: [300, 200, 200, 275, 300, 400]}}}\n",
            r"simulation\.spectrum\.layout\.chopper_hz\[3\]: 275 is not a multiple of 50",
        ),
        ("volume: {ei_mev: 5000}\n", r"volume\.ei_mev: 5000 is greater than the maximum of 2000"),
        (
            "split: {test_fraction: .nan}\n",
            r"split\.test_fraction: must be a finite number, got nan",
        ),
        ("gan: {lowpass_sigma: .inf}\n", r"gan\.lowpass_sigma: must be a finite number, got inf"),
        ("duq: {lr: -.inf}\n", r"duq\.lr: must be a finite number, got -inf"),
    ],
)
def test_a_config_file_outside_snakemake_names_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        check_file(path)
    assert str(err.value).startswith(f"{path}: ")


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"nothere\.yaml: cannot read the config file"):
        check_file(tmp_path / "nothere.yaml")


@pytest.mark.parametrize("name", ("demo", "smoke"))
def test_the_presets_pass_the_file_check_as_snakemake_sees_them(name):
    config = check_file(ROOT / "config" / f"{name}.yaml")
    assert config == with_defaults(merged(preset("config"), preset(name)))
    assert config["preset"] == name


def test_merging_is_recursive_as_in_snakemake():
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "b": 1}
    assert merged(base, {"a": {"y": {"q": 3}}, "c": 2}) == {
        "a": {"x": 1, "y": {"p": 1, "q": 3}},
        "b": 1,
        "c": 2,
    }
    assert base["a"]["y"]["q"] == 2  # the base is not modified
