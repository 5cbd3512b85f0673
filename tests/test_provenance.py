"""Configuration records in data files and checkpoints, and refusing stale ones."""

import h5py
import numpy as np
import pytest
import torch

from exp2simgan_core import provenance
from exp2simgan_core.gan.checkpoint import load_checkpoint, save_atomically
from exp2simgan_core.io import DataFileError, read_h5, write_h5

CONFIG = {
    "seed": 0,
    "simulation": {"n_per_model": 100, "spectrum": {"oversample": 3}},
    "split": {"test_fraction": 0.2},
    "gan": {"ngf": 16},
}
SPECTRA = {"spectra": np.ones((2, 4, 6), np.float32)}


@pytest.fixture(autouse=True)
def unbound():
    """Every test starts and ends outside a workflow job."""
    provenance.unbind_config()
    yield
    provenance.unbind_config()


def changed(path, value):
    """A copy of CONFIG with the dotted ``path`` set to ``value``."""
    config = {k: dict(v) if isinstance(v, dict) else v for k, v in CONFIG.items()}
    *parents, leaf = path.split(".")
    node = config
    for key in parents:
        node[key] = dict(node[key])
        node = node[key]
    node[leaf] = value
    return config


def test_unbound_writes_record_nothing(tmp_path):
    write_h5(tmp_path / "a.h5", SPECTRA, {"kind": "x"})
    with h5py.File(tmp_path / "a.h5") as f:
        assert provenance.CONFIG_ATTR not in f.attrs
        assert provenance.CONFIG_HASH_ATTR not in f.attrs


def test_a_bound_job_records_its_sections_and_their_hash(tmp_path):
    provenance.bind_config(CONFIG, ["seed", "simulation"])
    write_h5(tmp_path / "a.h5", SPECTRA, {})
    attrs = read_h5(tmp_path / "a.h5").attrs
    assert attrs[provenance.CONFIG_ATTR] == {"seed": 0, "simulation": CONFIG["simulation"]}
    assert attrs[provenance.CONFIG_HASH_ATTR] == provenance.config_sha256(
        {"seed": 0, "simulation": CONFIG["simulation"]}
    )


def test_the_hash_does_not_depend_on_key_order():
    a = {"x": 1, "y": {"p": 2, "q": 3}}
    b = {"y": {"q": 3, "p": 2}, "x": 1}
    assert provenance.config_sha256(a) == provenance.config_sha256(b)
    assert provenance.config_sha256(a) != provenance.config_sha256({"x": 1, "y": {"p": 2}})


def test_files_do_not_depend_on_the_key_order_of_the_configuration(tmp_path):
    reordered = {
        "split": {"test_fraction": 0.2},
        "simulation": {"spectrum": {"oversample": 3}, "n_per_model": 100},
        "seed": 0,
    }
    for name, config, sections in (
        ("a.h5", CONFIG, ["seed", "simulation", "split"]),
        ("b.h5", reordered, ["split", "simulation", "seed"]),
    ):
        provenance.bind_config(config, sections)
        write_h5(tmp_path / name, SPECTRA, {})
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert a.attrs["config"] == b.attrs["config"]
        assert a.attrs["content_sha256"] == b.attrs["content_sha256"]


def test_outputs_record_the_sections_of_every_input_read(tmp_path):
    provenance.bind_config(CONFIG, ["seed", "simulation"])
    write_h5(tmp_path / "simulated.h5", SPECTRA, {})
    provenance.bind_config(CONFIG, ["split"])  # the next job: reads the simulation, splits it
    read_h5(tmp_path / "simulated.h5")
    write_h5(tmp_path / "train.h5", SPECTRA, {})
    recorded = read_h5(tmp_path / "train.h5").attrs[provenance.CONFIG_ATTR]
    assert sorted(recorded) == ["seed", "simulation", "split"]


def test_a_file_from_the_same_configuration_is_accepted(tmp_path):
    provenance.bind_config(CONFIG, ["seed", "simulation"])
    write_h5(tmp_path / "a.h5", SPECTRA, {})
    provenance.bind_config(CONFIG, ["gan"])
    assert read_h5(tmp_path / "a.h5").datasets["spectra"].shape == (2, 4, 6)


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("simulation.n_per_model", 200, "simulation.n_per_model: file 100, config now 200"),
        ("simulation.spectrum.oversample", 5, "simulation.spectrum.oversample: file 3"),
        ("seed", 7, "seed: file 0, config now 7"),
    ],
)
def test_a_stale_file_is_refused_naming_the_file_and_each_differing_key(
    tmp_path, key, value, shown
):
    provenance.bind_config(CONFIG, ["seed", "simulation"])
    write_h5(tmp_path / "a.h5", SPECTRA, {})
    provenance.bind_config(changed(key, value), [])
    with pytest.raises(DataFileError) as err:
        read_h5(tmp_path / "a.h5")
    message = str(err.value)
    assert str(tmp_path / "a.h5") in message
    assert "stale" in message
    assert shown in message


def test_a_change_in_a_section_the_file_does_not_depend_on_is_not_stale(tmp_path):
    provenance.bind_config(CONFIG, ["seed", "simulation"])
    write_h5(tmp_path / "a.h5", SPECTRA, {})
    provenance.bind_config(changed("gan.ngf", 64), [])
    np.testing.assert_array_equal(
        read_h5(tmp_path / "a.h5").datasets["spectra"], SPECTRA["spectra"]
    )


def test_a_section_missing_from_the_current_configuration_is_stale(tmp_path):
    provenance.bind_config({**CONFIG, "extra": {"a": 1}}, ["extra"])
    write_h5(tmp_path / "a.h5", SPECTRA, {})
    provenance.bind_config(CONFIG, [])
    with pytest.raises(DataFileError, match=r"extra: file \{\"a\": 1\}, config now null"):
        read_h5(tmp_path / "a.h5")


def test_many_differences_are_summarised(tmp_path):
    big = {"s": {f"k{i}": i for i in range(8)}}
    provenance.bind_config(big, ["s"])
    write_h5(tmp_path / "a.h5", SPECTRA, {})
    provenance.bind_config({"s": {f"k{i}": -i - 1 for i in range(8)}}, [])
    with pytest.raises(DataFileError, match="and 3 more"):
        read_h5(tmp_path / "a.h5")


def test_a_record_that_does_not_match_its_hash_is_refused(tmp_path):
    """Written without a content checksum (as another tool might), so only the hash guards it."""
    path = tmp_path / "a.h5"
    with h5py.File(path, "w") as f:
        f["spectra"] = SPECTRA["spectra"]
        f.attrs["json_attrs"] = '["config"]'
        f.attrs["config"] = '{"seed": 0}'
        f.attrs["config_sha256"] = provenance.config_sha256({"seed": 1})
    provenance.bind_config(CONFIG, [])
    with pytest.raises(DataFileError, match="does not match its hash"):
        read_h5(path)


def test_unbound_readers_accept_records_of_any_configuration(tmp_path):
    provenance.bind_config(CONFIG, ["seed"])
    write_h5(tmp_path / "a.h5", SPECTRA, {})
    provenance.unbind_config()
    assert read_h5(tmp_path / "a.h5").attrs["config"] == {"seed": CONFIG["seed"]}


def test_binding_an_unknown_section_names_it():
    with pytest.raises(KeyError, match="volume"):
        provenance.bind_config(CONFIG, ["seed", "volume"])
    with pytest.raises(KeyError, match=r"'simulation.spectrum.oversampel' does not exist"):
        provenance.bind_config(CONFIG, ["simulation.spectrum.oversampel"])


def test_dotted_keys_record_only_that_part_of_a_section(tmp_path):
    provenance.bind_config(CONFIG, ["seed", "simulation.spectrum"])
    write_h5(tmp_path / "a.h5", SPECTRA, {})
    recorded = read_h5(tmp_path / "a.h5").attrs["config"]
    assert recorded == {"seed": 0, "simulation": {"spectrum": {"oversample": 3}}}
    provenance.bind_config(changed("simulation.n_per_model", 7), [])
    read_h5(tmp_path / "a.h5")  # a key it does not record changed: not stale
    provenance.bind_config(changed("simulation.spectrum", {"oversample": 5}), [])
    with pytest.raises(
        DataFileError, match=r"simulation.spectrum.oversample: file 3, config now 5"
    ):
        read_h5(tmp_path / "a.h5")


def test_records_of_inputs_merge_key_by_key(tmp_path):
    provenance.bind_config(CONFIG, ["simulation.spectrum"])
    write_h5(tmp_path / "a.h5", SPECTRA, {})
    provenance.bind_config(CONFIG, ["simulation.n_per_model"])
    write_h5(tmp_path / "b.h5", SPECTRA, {})
    provenance.bind_config(CONFIG, ["gan"])
    read_h5(tmp_path / "a.h5")
    read_h5(tmp_path / "b.h5")
    write_h5(tmp_path / "c.h5", SPECTRA, {})
    assert read_h5(tmp_path / "c.h5").attrs["config"] == {
        "gan": {"ngf": 16},
        "simulation": {"n_per_model": 100, "spectrum": {"oversample": 3}},
    }


def test_checkpoints_record_the_configuration_and_stale_ones_are_refused(tmp_path):
    state = {
        "networks": {},
        "architecture": {},
        "settings": {},
        "scaling": {},
        "iteration": 1,
        "w": torch.zeros(2),
    }
    provenance.bind_config(CONFIG, ["seed", "gan"])
    save_atomically(state, tmp_path / "c.pt")
    assert load_checkpoint(tmp_path / "c.pt")["config"] == {"seed": 0, "gan": {"ngf": 16}}
    provenance.bind_config(changed("gan.ngf", 32), [])
    with pytest.raises(ValueError, match=r"c\.pt: it is stale.*gan\.ngf: file 16, config now 32"):
        load_checkpoint(tmp_path / "c.pt")
