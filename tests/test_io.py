"""HDF5 files of the project (io: write_h5, read_h5, check_writable)."""

import doctest
import re

import h5py
import numpy as np
import pytest

import exp2simgan_core
import exp2simgan_core.io
from exp2simgan_core.io import (
    DataFileError,
    check_writable,
    read_h5,
    read_torch_file,
    write_h5,
)
from exp2simgan_core.user_spectra import read_user_spectrum
from exp2simgan_core.version import code_version

SHAPE = (6, 10)


def spectra(n=3, shape=SHAPE, seed=0):
    x = np.random.default_rng(seed).random((n, *shape)).astype(np.float32)
    x[:, 0, :2] = np.nan
    return x


def test_docstring_example_runs():
    assert doctest.testmod(exp2simgan_core.io).failed == 0


def test_round_trip_keeps_arrays_attrs_and_adds_code_version(tmp_path):
    path = tmp_path / "a.h5"
    data = {"spectra": spectra(), "params": np.arange(12.0).reshape(3, 4), "label": np.arange(3)}
    attrs = {
        "kind": "experiment",
        "seed": 7,
        "scale": 0.5,
        "flag": True,
        "nothing": None,
        "names": ["JF1", "JA"],
        "settings": {"layout": {"n_pix": 16, "ei_mev": (25.0, 35.0)}, "n": np.int64(3)},
    }
    write_h5(path, data, attrs)
    out = read_h5(path, required=["spectra", "params"], trailing_shape=SHAPE)
    assert out.path == path
    assert set(out.datasets) == set(data)
    for name, array in data.items():
        assert out.datasets[name].dtype == array.dtype
        np.testing.assert_array_equal(out.datasets[name], array)  # NaN positions included
    assert out.attrs["kind"] == "experiment"
    assert out.attrs["seed"] == 7 and isinstance(out.attrs["seed"], int)
    assert out.attrs["scale"] == 0.5
    assert out.attrs["flag"] is True
    assert out.attrs["nothing"] is None
    assert out.attrs["names"] == ["JF1", "JA"]
    assert out.attrs["settings"] == {"layout": {"n_pix": 16, "ei_mev": [25.0, 35.0]}, "n": 3}
    assert out.attrs["code_version"] == code_version()


def test_volumes_of_the_3d_layout_are_spectra_too(tmp_path):
    volume = np.zeros((2, 4, 4, 5), np.float32)
    write_h5(tmp_path / "v.h5", {"unconvolved": volume}, {})
    out = read_h5(tmp_path / "v.h5", required=["unconvolved"], trailing_shape=(4, 4, 5))
    np.testing.assert_array_equal(out.datasets["unconvolved"], volume)


def test_plain_attributes_stay_readable_by_other_hdf5_tools(tmp_path):
    write_h5(tmp_path / "a.h5", {"x": np.zeros(2)}, {"kind": "rb2mnf4", "settings": {"a": 1}})
    with h5py.File(tmp_path / "a.h5") as f:
        assert f.attrs["kind"] == "rb2mnf4"
        assert f.attrs["settings"] == '{"a": 1}'


def test_failed_write_leaves_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "a.h5"
    write_h5(path, {"spectra": spectra()}, {"version": 1})
    with pytest.raises(TypeError):
        write_h5(path, {"spectra": spectra()}, {"bad": object()})
    assert read_h5(path).attrs["version"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5"]


def test_write_refuses_non_numeric_dataset_and_reserved_attribute(tmp_path):
    with pytest.raises(TypeError, match="dataset 'names'"):
        write_h5(tmp_path / "a.h5", {"names": np.array(["a", "b"])}, {})
    with pytest.raises(ValueError, match="reserved"):
        write_h5(tmp_path / "a.h5", {}, {"json_attrs": "[]"})
    with pytest.raises(ValueError, match="'content_sha256', 'checksum_scheme'.* reserved"):
        write_h5(tmp_path / "a.h5", {}, {"checksum_scheme": "x", "content_sha256": "0"})
    assert list(tmp_path.iterdir()) == []


def test_check_writable_creates_folders_and_names_bad_destinations(tmp_path):
    assert (
        check_writable(tmp_path / "new" / "deeper" / "a.h5") == tmp_path / "new" / "deeper" / "a.h5"
    )
    assert (tmp_path / "new" / "deeper").is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError, match=r"cannot write .*file/a\.h5"):
        check_writable(blocker / "a.h5")
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        check_writable(tmp_path / "new")
    with pytest.raises(OSError, match="cannot write"):
        write_h5(blocker / "a.h5", {"x": np.zeros(1)}, {})


def test_read_h5_errors_name_file_and_problem(tmp_path):
    with pytest.raises(DataFileError, match=r"missing\.h5: no such file"):
        read_h5(tmp_path / "missing.h5")

    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(DataFileError, match=r"text\.h5: not a readable HDF5 file"):
        read_h5(text)

    good = tmp_path / "good.h5"
    write_h5(good, {"spectra": spectra(20, shape=(40, 40), seed=1)}, {})
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataFileError, match=r"truncated\.h5: not a readable HDF5 file"):
        read_h5(truncated)

    with pytest.raises(
        DataFileError, match=r"good\.h5: missing dataset\(s\) convolved \(it has: spectra\)"
    ):
        read_h5(good, required=["spectra", "convolved"])

    with pytest.raises(
        DataFileError,
        match=r"good\.h5: dataset 'spectra' holds spectra of shape \(40, 40\), expected \(6, 10\)",
    ):
        read_h5(good, trailing_shape=SHAPE)

    double = tmp_path / "double.h5"
    write_h5(double, {"convolved": spectra().astype(np.float64)}, {})
    with pytest.raises(
        DataFileError,
        match=r"double\.h5: dataset 'convolved' has dtype float64; spectra must be float32",
    ):
        read_h5(double)

    flat = tmp_path / "flat.h5"
    write_h5(flat, {"spectra": np.zeros((6, 10), np.float32)}, {})
    with pytest.raises(DataFileError, match=r"spectra must be images \(n, rows, cols\) or volumes"):
        read_h5(flat)


# --- content checksum -------------------------------------------------------------------------


def modified_message(path):
    return re.escape(
        f"{path}: content does not match its checksum ('content_sha256'): the file is corrupted "
        "or was modified after it was written; delete it and rerun the workflow step that writes it"
    )


def checksummed_file(path):
    data = {"spectra": spectra(), "label": np.arange(3), "scale": np.float64(2.5)}
    write_h5(path, data, {"kind": "experiment", "seed": 7, "settings": {"n_pix": 16}})
    return path


def test_checksum_is_stored_verified_and_left_out_of_attrs(tmp_path):
    path = tmp_path / "a.h5"
    data = {
        "spectra": spectra(),
        "big_endian": np.arange(6.0).astype(">f8"),
        "fortran": np.asfortranarray(np.arange(12).reshape(3, 4)),
        "covered": np.eye(3, dtype=bool),
        "empty": np.zeros((0, 4), np.float32),
        "scalar": np.int64(5),
    }
    write_h5(path, data, {"names": ["JF1"], "weights": np.array([0.5, np.nan])})
    with h5py.File(path) as f:
        assert re.fullmatch("[0-9a-f]{64}", f.attrs["content_sha256"])
        assert f.attrs["checksum_scheme"] == "sha256-v1"
    out = read_h5(path)
    assert "content_sha256" not in out.attrs and "checksum_scheme" not in out.attrs
    for name, array in data.items():
        np.testing.assert_array_equal(out.datasets[name], array)


@pytest.mark.parametrize(
    ("dataset", "index"), [("spectra", (1, 2, 3)), ("label", 0), ("scale", ())]
)
def test_one_changed_data_element_is_refused(tmp_path, dataset, index):
    path = checksummed_file(tmp_path / "a.h5")
    with h5py.File(path, "r+") as f:
        f[dataset][index] = f[dataset][index] + 1
    with pytest.raises(DataFileError, match=modified_message(path)):
        read_h5(path)


def test_one_flipped_byte_is_refused(tmp_path):
    path = checksummed_file(tmp_path / "a.h5")
    with h5py.File(path, "r+") as f:
        element = f["spectra"][0, 3, 4]
        raw = bytearray(element.tobytes())
        raw[0] ^= 1
        f["spectra"][0, 3, 4] = np.frombuffer(bytes(raw), np.float32)[0]
    with pytest.raises(DataFileError, match=modified_message(path)):
        read_h5(path)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("kind", "simulated"),
        ("seed", 8),
        ("settings", '{"n_pix": 17}'),
        ("code_version", "0.0.0"),
        ("json_attrs", "[]"),
        ("added", 1),
    ],
)
def test_changed_attribute_is_refused(tmp_path, key, value):
    path = checksummed_file(tmp_path / "a.h5")
    with h5py.File(path, "r+") as f:
        f.attrs[key] = value
    with pytest.raises(DataFileError, match=modified_message(path)):
        read_h5(path)


def test_added_or_deleted_dataset_is_refused(tmp_path):
    added = checksummed_file(tmp_path / "added.h5")
    with h5py.File(added, "r+") as f:
        f["extra"] = np.zeros(2)
    with pytest.raises(DataFileError, match=modified_message(added)):
        read_h5(added)
    deleted = checksummed_file(tmp_path / "deleted.h5")
    with h5py.File(deleted, "r+") as f:
        del f["label"]
    with pytest.raises(DataFileError, match=modified_message(deleted)):
        read_h5(deleted)


def test_unknown_checksum_scheme_is_refused(tmp_path):
    path = checksummed_file(tmp_path / "a.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["checksum_scheme"] = "sha256-v0"
    with pytest.raises(
        DataFileError, match=r"a\.h5: checksum scheme 'sha256-v0' is not 'sha256-v1'"
    ):
        read_h5(path)


def test_file_without_checksum_is_accepted(tmp_path):
    path = tmp_path / "mine.h5"
    x = spectra(1)
    with h5py.File(path, "w") as f:
        f["spectra"] = x
        f.attrs["instrument"] = "MAPS"
    out = read_h5(path, required=["spectra"], trailing_shape=SHAPE)
    np.testing.assert_array_equal(out.datasets["spectra"], x)
    assert out.attrs == {"instrument": "MAPS"}
    np.testing.assert_array_equal(read_user_spectrum(path, SHAPE), x[0])


def test_checksum_does_not_depend_on_creation_order_or_storage(tmp_path):
    data = {"spectra": spectra(), "label": np.arange(3), "params": np.ones((3, 2))}
    write_h5(tmp_path / "forward.h5", data, {"kind": "x"})
    write_h5(tmp_path / "reverse.h5", dict(reversed(data.items())), {"kind": "x"})
    with h5py.File(tmp_path / "forward.h5") as f:
        checksum = f.attrs["content_sha256"]
        attrs = dict(f.attrs)
    with h5py.File(tmp_path / "reverse.h5") as f:
        assert f.attrs["content_sha256"] == checksum
    copy = tmp_path / "copy.h5"
    with h5py.File(copy, "w") as f:  # reverse creation order, uncompressed, unchunked
        for name in sorted(data, reverse=True):
            f[name] = data[name]
        for key, value in reversed(attrs.items()):
            f.attrs[key] = value
    out = read_h5(copy)
    assert out.attrs == read_h5(tmp_path / "forward.h5").attrs


def test_files_do_not_depend_on_the_order_attributes_are_given_in(tmp_path):
    spectra = {"spectra": np.zeros((1, 4, 6), np.float32)}
    write_h5(tmp_path / "a.h5", spectra, {"p": {"x": 1}, "q": [1, 2], "r": "s"})
    write_h5(tmp_path / "b.h5", spectra, {"r": "s", "q": [1, 2], "p": {"x": 1}})
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert a.attrs["content_sha256"] == b.attrs["content_sha256"]


class _NotPlainData:
    """A pickled object that ``weights_only`` loading refuses."""


def test_read_torch_file_names_each_kind_of_bad_file(tmp_path):
    import torch

    good = tmp_path / "good.pt"
    torch.save({"weights": torch.ones(3)}, good)
    assert read_torch_file(good, "checkpoint")["weights"].tolist() == [1.0, 1.0, 1.0]
    data = good.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.pt").write_text("weights")
    (tmp_path / "empty.pt").write_bytes(b"")
    torch.save({"weights": _NotPlainData()}, tmp_path / "objects.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    expected = {
        "truncated": r"not a readable checkpoint \(truncated or damaged: RuntimeError",
        "text": r"not a readable checkpoint \(not a torch file: it starts b'weig'\)",
        "empty": r"not a readable checkpoint \(not a torch file: it is empty\)",
        "objects": r"not a readable checkpoint \(it holds Python objects other than tensors",
        "list": r"not a checkpoint \(it holds a list\)",
        "missing": r"no such checkpoint",
    }
    for name, message in expected.items():
        with pytest.raises(ValueError, match=rf"{name}\.pt: {message}"):
            read_torch_file(tmp_path / f"{name}.pt", "checkpoint")
