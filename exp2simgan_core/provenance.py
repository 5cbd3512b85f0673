"""Which configuration a data file came from, and refusing files written under another one.

A workflow job calls ``bind_config(config, sections)`` once, before it reads or writes anything.
From then on, in that process:

- ``read_h5`` asks ``input_problem`` about every file it reads. A file written by a bound job
  carries attribute ``config`` (the configuration sections it depends on, JSON) and
  ``config_sha256`` (their hash). If any recorded value differs from the current configuration,
  the file is *stale*: it was made for another configuration, for example copied from another
  run, or kept by ``--rerun-triggers mtime``. ``read_h5`` then raises ``DataFileError`` naming
  the file and every differing key, before the job does any work.
- ``write_h5`` adds ``output_attrs()`` to every file: the keys the job itself uses (the
  ``sections`` given to ``bind_config``, with their current values) merged with the keys
  recorded in every input it read. A file therefore records every key of its whole upstream
  chain, e.g. a translation records ``seed``, ``simulation.spectrum``, ``split``, ``patches`` and
  ``gan``.

A key is a top-level section (``"gan"``) or a dotted path into one (``"simulation.spectrum"``),
so that a job records only what its output depends on: a file made from ``simulation.spectrum``
is not stale when ``simulation.n_digits`` changes. The workflow gives each job the same keys as
params (``rules/common.smk``: ``recorded``), so Snakemake reruns a job exactly when a recorded
value changes.

Outside a bound job (tests, the command line on users' files) nothing is recorded or checked.
Files without a ``config`` attribute (users' own HDF5) are accepted unchecked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

CONFIG_ATTR = "config"  # {section: value} the file depends on
CONFIG_HASH_ATTR = "config_sha256"  # hex SHA-256 of CONFIG_ATTR serialised by config_sha256
MAX_LISTED = 5  # differing keys named in a stale-file message

_current: dict[str, Any] | None = None  # the whole configuration of the bound job
_recorded: dict[str, Any] = {}  # keys recorded so far (nested): the job's own and its inputs'


def config_value(config: Mapping[str, Any], key: str) -> Any:
    """The value at ``key`` (a section or a dotted path into one); KeyError naming a missing key."""
    value: Any = config
    for i, part in enumerate(key.split(".")):
        if not isinstance(value, Mapping) or part not in value:
            raise KeyError(f"config key '{'.'.join(key.split('.')[: i + 1])}' does not exist")
        value = value[part]
    return value


def _merge(into: dict[str, Any], record: Mapping[str, Any]) -> None:
    """Add nested ``record`` to ``into`` in place, merging mappings key by key."""
    for k, v in record.items():
        if isinstance(v, Mapping) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = json.loads(json.dumps(v))


def bind_config(config: Mapping[str, Any], sections: Sequence[str]) -> None:
    """Record ``sections`` of ``config`` in every file this process writes; check every input.

    ``config`` is the whole run configuration; ``sections`` the keys that the job itself uses:
    top-level sections or dotted paths into them. Raises KeyError naming a key that the
    configuration does not have.
    """
    global _current, _recorded
    current = json.loads(json.dumps(dict(config)))  # plain JSON values, as stored in files
    recorded: dict[str, Any] = {}
    for key in sections:
        *parents, leaf = key.split(".")
        nested = {leaf: config_value(current, key)}
        for parent in reversed(parents):
            nested = {parent: nested}
        _merge(recorded, nested)
    _current, _recorded = current, recorded


def unbind_config() -> None:
    """Stop recording and checking (the state of a process that never called bind_config)."""
    global _current, _recorded
    _current, _recorded = None, {}


def config_sha256(sections: Mapping[str, Any]) -> str:
    """Hex SHA-256 of ``sections`` as JSON with sorted keys and no spaces."""
    text = json.dumps(sections, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _sorted(value: Any) -> Any:
    """``value`` with the keys of every mapping in sorted order, recursively."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def output_attrs() -> dict[str, Any]:
    """Attributes for a file written now: ``{}`` when unbound, else the config record and hash.

    The record's keys are sorted, so that a file does not depend on the order in which the
    configuration was given or its inputs were read (a cluster job and a local one write
    identical files).
    """
    if _current is None:
        return {}
    return {CONFIG_ATTR: _sorted(_recorded), CONFIG_HASH_ATTR: config_sha256(_recorded)}


def _differences(recorded: Any, current: Any, key: str) -> Iterator[str]:
    """'key: file X, config now Y' for every recorded leaf that differs from ``current``."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        for k in sorted(recorded):
            yield from _differences(recorded[k], current.get(k), f"{key}.{k}")
    elif recorded != current:
        yield f"{key}: file {json.dumps(recorded)}, config now {json.dumps(current)}"


def input_problem(attrs: Mapping[str, Any]) -> str | None:
    """Why a file with attributes ``attrs`` must not be used now, or None if it may.

    Unbound, or for a file without a config record, the answer is None. Otherwise the record
    must match its hash and agree with the current configuration on every recorded section; the
    file's sections are then added to those that this job's outputs record. ``read_h5`` turns
    the answer into a ``DataFileError`` naming the file.
    """
    if _current is None or CONFIG_ATTR not in attrs:
        return None
    recorded = attrs[CONFIG_ATTR]
    if not isinstance(recorded, dict) or attrs.get(CONFIG_HASH_ATTR) != config_sha256(recorded):
        return (
            f"its configuration record ('{CONFIG_ATTR}') does not match its hash "
            f"('{CONFIG_HASH_ATTR}')"
        )
    differences = [
        line
        for section in sorted(recorded)
        for line in _differences(recorded[section], _current.get(section), section)
    ]
    if differences:
        more = len(differences) - MAX_LISTED
        return (
            "it is stale, written under another configuration ("
            + "; ".join(differences[:MAX_LISTED])
            + (f"; and {more} more" if more > 0 else "")
            + ")"
        )
    _merge(_recorded, recorded)
    return None
