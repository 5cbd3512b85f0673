"""HDF5 files of the project, and atomic CSV and text outputs.

Every data file of the workflow is HDF5 written by ``write_h5``: named numeric datasets plus
attributes carrying provenance (settings, seed, model, ``code_version``). Spectrum datasets,
recognised by name (``SPECTRUM_DATASETS``), are float32 images (n, rows, cols) or volumes
(n, H, K, E) in arbitrary intensity units, NaN where the instrument has no detector coverage.

Integrity: ``write_h5`` stores a SHA-256 of the file's content as attribute ``content_sha256``
(what it covers is versioned by attribute ``checksum_scheme``; see ``_content_sha256``), and
``read_h5`` recomputes it and refuses a file whose content no longer matches. Every file written
by ``write_h5`` carries it; a file without it (a user's own HDF5 written by another tool) is read
unverified. The checksum guards against corruption and accidental edits, not against someone who
deletes the attribute on purpose. Inside a workflow job, files also record the configuration they
came from and stale ones are refused (``exp2simgan_core.provenance``).

Users' measured spectra are read and checked by ``exp2simgan_core.user_spectra``.

Example::

    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.h5")
    >>> write_h5(path, {"spectra": np.zeros((1, 4, 6), np.float32)}, {"kind": "demo"})
    >>> read_h5(path, required=["spectra"], trailing_shape=(4, 6)).attrs["kind"]
    'demo'
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import pickle
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from exp2simgan_core import provenance
from exp2simgan_core.util import atomic_path
from exp2simgan_core.version import code_version

log = logging.getLogger(__name__)

SPECTRUM_DATASETS = (
    "spectra",
    "convolved",
    "unconvolved",
)  # float32, (n, rows, cols) or (n, H, K, E), NaN = uncovered
JSON_ATTRS = "json_attrs"  # attribute listing the attributes stored as JSON strings
CHECKSUM_ATTR = "content_sha256"  # hex SHA-256 of the datasets and attributes, see _content_sha256
SCHEME_ATTR = "checksum_scheme"  # which content CHECKSUM_ATTR covers, and how it is serialised
CHECKSUM_SCHEME = "sha256-v1"
RESERVED_ATTRS = (JSON_ATTRS, CHECKSUM_ATTR, SCHEME_ATTR)
REGENERATE = "delete it and rerun the workflow step that writes it"


class DataFileError(ValueError):
    """A data file is missing, unreadable or does not hold what it should; the message names it."""


@dataclass(frozen=True)
class H5Data:
    """Contents of one HDF5 file: its datasets as arrays and its attributes (JSON decoded)."""

    path: Path
    datasets: dict[str, np.ndarray]
    attrs: dict[str, Any]


def read_torch_file(path: str | Path, what: str) -> dict:
    """The dict saved in the torch file ``path`` (tensors on the CPU, ``weights_only``: no code
    runs). Raises ValueError naming the file and ``what`` it should be when it is missing, not a
    torch file (truncated, text, HDF5, a pickle of other objects) or holds no dict."""
    import torch  # only commands that read checkpoints load torch

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such {what}")
    with path.open("rb") as stream:
        head = stream.read(4)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):  # zip archive or pickle
        found = f"it starts {head!r}" if head else "it is empty"
        raise ValueError(f"{path}: not a readable {what} (not a torch file: {found})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ValueError(
            f"{path}: not a readable {what} (it holds Python objects other than tensors and "
            "plain data, which are not loaded because loading them would run code)"
        ) from None
    except Exception as err:  # torch raises many unrelated types for damaged files
        reason = str(err).strip().split(". ")[0].splitlines()[0] if str(err).strip() else ""
        raise ValueError(
            f"{path}: not a readable {what} (truncated or damaged: "
            f"{type(err).__name__}{': ' + reason[:160] if reason else ''})"
        ) from None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a {what} (it holds a {type(state).__name__})")
    return state


def check_writable(path: str | Path) -> Path:
    """Create the parent folder of ``path`` if needed; raise ``OSError`` naming it if unwritable.

    Call it before expensive work whose result goes to ``path``.
    """
    path = Path(path)
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"cannot write {path}: cannot create its folder ({err})") from None
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: folder {parent} is not writable")
    return path


def _attr_value(value: Any) -> Any:
    """Attribute as h5py stores it; containers, None and bools become JSON strings."""
    if isinstance(value, Mapping | list | tuple | bool) or value is None:
        return json.dumps(value, default=_json_default)
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"attribute value {value!r} of type {type(value).__name__} is not storable")


def write_h5(
    path: str | Path, datasets: Mapping[str, np.ndarray], attrs: Mapping[str, Any]
) -> None:
    """Write ``datasets`` and ``attrs`` to ``path`` atomically, adding ``code_version``.

    The file is written under a temporary name in the same folder and renamed at the end, so a
    killed job never leaves a partial file under the final name. Attributes that are dicts, lists,
    tuples, bools or None are stored as JSON strings (``read_h5`` decodes them). Arrays are stored
    with gzip compression, spectra chunked one per chunk. The content checksum
    (``CHECKSUM_ATTR``, ``SCHEME_ATTR``) is added last.
    """
    path = check_writable(path)
    reserved = [key for key in RESERVED_ATTRS if key in attrs]
    if reserved:
        raise ValueError(f"attribute name(s) {', '.join(map(repr, reserved))} are reserved")
    arrays = {name: np.asarray(array) for name, array in datasets.items()}
    for name, array in arrays.items():
        if array.dtype.kind not in "biuf":
            raise TypeError(f"dataset '{name}' for {path}: dtype {array.dtype} is not numeric")
    full_attrs = {
        **attrs,
        **provenance.output_attrs(),
        "code_version": code_version(),
    }
    with atomic_path(path) as tmp, h5py.File(tmp, "x") as f:
        for name, array in arrays.items():
            options = {}
            if array.size and array.ndim:
                options = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
                if name in SPECTRUM_DATASETS and array.ndim in (3, 4):
                    options["chunks"] = (1, *array.shape[1:])
            f.create_dataset(name, data=array, **options)
        json_names = []
        for key, value in full_attrs.items():
            stored = _attr_value(value)
            if stored is not value:
                json_names.append(key)
            f.attrs[key] = stored
        f.attrs[JSON_ATTRS] = json.dumps(sorted(json_names))
        f.attrs[CHECKSUM_ATTR] = _content_sha256(arrays, _raw_attrs(f))
        f.attrs[SCHEME_ATTR] = CHECKSUM_SCHEME
    log.info("wrote %s (%s)", path, ", ".join(f"{k} {np.shape(v)}" for k, v in datasets.items()))


def _raw_attrs(f: h5py.File) -> dict[str, Any]:
    """Attributes as stored (JSON strings not decoded), bytes as str, numpy scalars as Python's."""
    attrs = {}
    for key, value in f.attrs.items():
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, np.generic):
            value = value.item()
        attrs[key] = value
    return attrs


def _decode_attrs(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes as given to ``write_h5``: JSON ones decoded, ``RESERVED_ATTRS`` dropped."""
    json_names = set(json.loads(raw.get(JSON_ATTRS, "[]")))
    return {
        key: json.loads(value) if key in json_names else value
        for key, value in raw.items()
        if key not in RESERVED_ATTRS
    }


def _content_sha256(datasets: Mapping[str, np.ndarray], raw_attrs: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the content of a file, scheme ``CHECKSUM_SCHEME``.

    Hashed in order: for each dataset in sorted name order, the UTF-8 line
    ``json.dumps([name, dtype.str, list(shape)])`` followed by its raw bytes in C order,
    little-endian; then the stored attributes (``_raw_attrs``, the two checksum attributes
    excluded, ``JSON_ATTRS`` included) as JSON with sorted keys and no spaces. Independent of
    creation order, chunking and compression.
    """
    digest = hashlib.sha256()
    for name in sorted(datasets):
        array = np.asarray(datasets[name])
        if array.dtype.str.startswith(">"):
            array = array.astype(array.dtype.newbyteorder("<"))
        array = np.ascontiguousarray(array)
        header = json.dumps([name, array.dtype.str, list(array.shape)]) + "\n"
        digest.update(header.encode())
        digest.update(array.reshape(-1).view(np.uint8))
    content_attrs = {k: v for k, v in raw_attrs.items() if k not in (CHECKSUM_ATTR, SCHEME_ATTR)}
    digest.update(
        json.dumps(
            content_attrs, sort_keys=True, separators=(",", ":"), default=_json_default
        ).encode()
    )
    return digest.hexdigest()


def _verify_checksum(
    path: Path, datasets: Mapping[str, np.ndarray], raw_attrs: Mapping[str, Any]
) -> None:
    """Raise ``DataFileError`` if ``path`` has a content checksum that its content fails."""
    stored = raw_attrs.get(CHECKSUM_ATTR)
    if stored is None:
        log.debug("%s has no '%s' attribute; read unverified", path, CHECKSUM_ATTR)
        return
    scheme = raw_attrs.get(SCHEME_ATTR)
    if scheme != CHECKSUM_SCHEME:
        raise DataFileError(
            f"{path}: checksum scheme {scheme!r} is not {CHECKSUM_SCHEME!r}, the one this version "
            f"verifies; {REGENERATE}"
        )
    if _content_sha256(datasets, raw_attrs) != stored:
        raise DataFileError(
            f"{path}: content does not match its checksum ('{CHECKSUM_ATTR}'): the file is "
            f"corrupted or was modified after it was written; {REGENERATE}"
        )


def read_h5(
    path: str | Path,
    required: Iterable[str] = (),
    trailing_shape: tuple[int, ...] | None = None,
) -> H5Data:
    """Read every dataset and attribute of ``path``, checking what the caller relies on.

    Raises ``DataFileError`` naming the file if it is missing, not HDF5 (or truncated), fails its
    content checksum (any file with attribute ``CHECKSUM_ATTR`` is verified; one without it is
    read unverified), was written under another configuration than the bound one
    (``provenance.input_problem``), lacks a dataset of ``required``, or holds a spectrum dataset
    (``SPECTRUM_DATASETS``) that is not float32 of shape (n, *trailing_shape). The returned
    attributes exclude the checksum attributes, which describe the file rather than its content.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            datasets = {name: f[name][()] for name in f if isinstance(f[name], h5py.Dataset)}
            raw_attrs = _raw_attrs(f)
    except (OSError, RuntimeError, KeyError) as err:
        raise DataFileError(
            f"{path}: not a readable HDF5 file (truncated or another format): {err}"
        ) from None
    _verify_checksum(path, datasets, raw_attrs)
    attrs = _decode_attrs(raw_attrs)
    problem = provenance.input_problem(attrs)
    if problem:
        raise DataFileError(f"{path}: {problem}; {REGENERATE}, or rerun with --forceall")
    missing = [name for name in required if name not in datasets]
    if missing:
        raise DataFileError(
            f"{path}: missing dataset(s) {', '.join(missing)} "
            f"(it has: {', '.join(sorted(datasets)) or 'none'})"
        )
    for name in SPECTRUM_DATASETS:
        if name in datasets:
            _check_spectra(path, name, datasets[name], trailing_shape)
    return H5Data(path=path, datasets=datasets, attrs=attrs)


def _check_spectra(path: Path, name: str, array: np.ndarray, shape: tuple[int, ...] | None) -> None:
    if array.dtype != np.float32:
        raise DataFileError(
            f"{path}: dataset '{name}' has dtype {array.dtype}; spectra must be float32"
        )
    if array.ndim not in (3, 4):
        raise DataFileError(
            f"{path}: dataset '{name}' has shape {array.shape}; spectra must be images "
            "(n, rows, cols) or volumes (n, H, K, E)"
        )
    if shape is not None and array.shape[1:] != tuple(shape):
        raise DataFileError(
            f"{path}: dataset '{name}' holds spectra of shape {array.shape[1:]}, "
            f"expected {tuple(shape)}"
        )


def write_csv(path: str | Path, columns: Sequence[str], rows: Sequence[dict]) -> None:
    """Atomic CSV with header ``columns``; floats with 6 significant digits."""

    def cell(v: Any) -> Any:
        return f"{v:.6g}" if isinstance(v, float) and math.isfinite(v) else v

    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: cell(v) for k, v in row.items()} for row in rows)


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV written by :func:`write_csv`, as dicts of strings."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (``util.atomic_path``)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
