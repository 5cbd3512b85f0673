"""File-level applicability stage: distances of every set to the training set, zones, verdicts.

For one direction, the selected checkpoint's generator of that direction supplies the features
(``applicability.spectrum_features``; Exp2Sim's encoder reads convolved spectra, Sim2Exp's
unconvolved ones), every named set is fed to it as it is, and ``distance_table`` measures it
against the training spectra of the encoder's input domain.

Zones are calibrated per set size. A set smaller than ``n_points`` (one measured spectrum) is
compared, in every repeat, as a whole with ``n_points`` training points, which gives larger
distances than two full draws from the same distribution. So for every such size m the zones are
calibrated again from the held-out test set and the far-away sets drawn m points at a time (for
a single spectrum: from the mean distance of each held-out and far-away spectrum alone,
``sized_zones``); each set's zone uses the thresholds of its own size.
``applicability_zones.json`` records every calibration with its derivation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from exp2simgan_core.applicability import (
    ApplicabilitySettings,
    Zones,
    calibrate_zones,
    distance_table,
    spectrum_features,
    summary_rows,
    verdict,
    write_distances,
)
from exp2simgan_core.gan.checkpoint import load_generator
from exp2simgan_core.gan.pipeline import INPUT_DATASETS, spectra_for
from exp2simgan_core.io import DataFileError, check_writable, read_h5, write_csv, write_text

SUMMARY_COLUMNS = ("direction", "set", "n_spectra", "mean", "std", "zone")
ALONE_COLUMNS = ("direction", "set", "spectrum", "mean", "std", "zone")
HELD_OUT = {"exp2sim": "test_convolved", "sim2exp": "test_unconvolved"}  # in-domain, unseen
FAR_SETS = ("digits", "photos")  # out of domain by construction


def set_spectra(sources: Mapping[str, tuple[str | Path, str | None]]) -> dict[str, np.ndarray]:
    """Named spectra: set -> (file, dataset or None for 'spectra')."""
    return {
        name: read_h5(path, required=(dataset or "spectra",)).datasets[dataset or "spectra"]
        for name, (path, dataset) in sources.items()
    }


def sized_zones(
    train: np.ndarray,
    held_out: np.ndarray,
    far: Mapping[str, np.ndarray],
    size: int,
    settings: ApplicabilitySettings,
    held_out_name: str,
) -> Zones:
    """Zones for sets of ``size`` spectra, from the held-out features and the far-away sets.

    A set's zone is that of its mean distance over the repeats. For sets of two or more the
    thresholds are quantiles of the pooled repeats of the held-out set and of the far sets drawn
    ``size`` at a time. A single spectrum (a measurement as it arrives) is compared with
    ``n_points`` training points in every repeat: its distance varies far more between repeats
    than between spectra, so its thresholds are quantiles of the statistic it is judged by, the
    mean over repeats, of each held-out and each far-away spectrum alone. (Sets of two or more
    are not calibrated that way: the far sets give too few disjoint sets for a quantile.)
    """
    small = replace(settings, set_points=size)
    if size > 1:
        distances = distance_table(train, {held_out_name: held_out, **far}, small)
        return calibrate_zones(
            distances[held_out_name],
            np.concatenate([distances[name] for name in far]),
            held_out_sets=[f"{held_out_name} ({size} at a time)"],
            out_of_domain_sets=[f"{name} ({size} at a time)" for name in far],
        )
    means = {
        name: _single_means(train, features, small, name)
        for name, features in {held_out_name: held_out, **far}.items()
    }
    return calibrate_zones(
        means[held_out_name],
        np.concatenate([means[name] for name in far]),
        held_out_sets=[f"{held_out_name} (1 at a time, mean per spectrum)"],
        out_of_domain_sets=[f"{name} (1 at a time, mean per spectrum)" for name in far],
    )


def _single_means(
    train: np.ndarray, features: np.ndarray, settings: ApplicabilitySettings, name: str
) -> np.ndarray:
    """Each spectrum's mean distance over the repeats, measured alone (``name``_i streams)."""
    distances = distance_table(train, one_at_a_time(name, features), settings)
    return np.array([d.mean() for d in distances.values()])


def one_at_a_time(name: str, features: np.ndarray) -> dict[str, np.ndarray]:
    """Each spectrum of a set as a set of its own, named ``<name>_<index>``."""
    return {f"{name}_{i}": features[i : i + 1] for i in range(len(features))}


def _check_sets(direction: str, names: Iterable[str]) -> None:
    """Raise ValueError naming the held-out and far-away sets ``direction`` needs but lacks."""
    present = set(names)
    missing = [s for s in (HELD_OUT[direction], *FAR_SETS) if s not in present]
    if missing:
        raise ValueError(f"the applicability sets lack {missing}, needed to calibrate the zones")


def direction_distances(
    checkpoint: str | Path,
    direction: str,
    train_path: str | Path,
    sets: Mapping[str, np.ndarray],
    settings: ApplicabilitySettings,
    device: str = "cpu",
    alone: Sequence[str] = (),
) -> tuple[dict[str, np.ndarray], dict[int, Zones]]:
    """Distances of every set and the zones per set size, for one direction.

    ``sets`` must include the held-out set ``HELD_OUT[direction]`` and ``FAR_SETS``. Each
    spectrum of the sets named in ``alone`` is also measured on its own, as ``<set>_<index>``
    (as a user's measurement arrives: one at a time). Returns (name -> distances (n_repeats,),
    size -> zones), the full draw's zones under ``n_points``.
    """
    _check_sets(direction, sets)
    loaded = load_generator(Path(checkpoint), direction)
    train = spectrum_features(loaded, spectra_for(train_path, direction), device)
    features = {
        name: train if name == "train" else spectrum_features(loaded, x, device)
        for name, x in sets.items()
    }
    distances = distance_table(train, features, settings)
    for name in alone:
        distances |= distance_table(train, one_at_a_time(name, features[name]), settings)
    far = {s: features[s] for s in FAR_SETS}
    held_out = features[HELD_OUT[direction]]
    sizes = {min(len(x), settings.n_points) for x in features.values()} | ({1} if alone else set())
    zones = {
        size: sized_zones(train, held_out, far, size, settings, HELD_OUT[direction])
        for size in sorted(sizes)
    }
    return distances, zones


def write_applicability(
    checkpoint: str | Path,
    train_path: str | Path,
    sources: Mapping[str, tuple[str | Path, str | None]],
    settings: ApplicabilitySettings,
    distance_files: Mapping[str, str | Path],
    table_csv: str | Path,
    zones_json: str | Path,
    device: str = "cpu",
    alone: Sequence[str] = (),
    alone_csv: str | Path | None = None,
) -> list[dict]:
    """Both directions: distance files (one per direction), the summary table and the zones.

    ``sources``: set -> (file, dataset or None for 'spectra'); ``distance_files``: direction ->
    output HDF5 (its stored zones, drawn in the ridgeline, are those of the largest set size: full
    draws of ``n_points`` when a set has that many). Each spectrum of the sets in ``alone`` is
    also rated on its own (zones of single spectra) in ``alone_csv``: one row per spectrum and
    direction, ``ALONE_COLUMNS``.
    """
    outputs = (*distance_files.values(), table_csv, zones_json)
    for out in (*outputs, alone_csv) if alone_csv is not None else outputs:
        check_writable(out)
    for direction in distance_files:  # before any work: no direction's file is left behind
        _check_sets(direction, sources)
    missing = [name for name in alone if name not in sources]
    if missing or (alone and alone_csv is None):
        raise ValueError(f"sets to rate one spectrum at a time {missing} need sources and a table")
    sets = set_spectra(sources)
    rows, alone_rows, all_zones = [], [], {}
    for direction, out in distance_files.items():
        distances, zones = direction_distances(
            checkpoint, direction, train_path, sets, settings, device, alone
        )
        for name in sets:
            size = min(len(sets[name]), settings.n_points)
            (row,) = summary_rows(direction, {name: distances[name]}, zones[size])
            rows.append({**row, "n_spectra": len(sets[name])})
        for name in alone:
            for i in range(len(sets[name])):
                (row,) = summary_rows(direction, {name: distances[f"{name}_{i}"]}, zones[1])
                alone_rows.append({**row, "spectrum": i})
        whole = {name: distances[name] for name in sets}
        write_distances(out, direction, whole, settings, zones[max(zones)])
        all_zones[direction] = {f"sets_of_{size}": z.to_dict() for size, z in zones.items()}
    write_csv(table_csv, SUMMARY_COLUMNS, rows)
    if alone_csv is not None:
        write_csv(alone_csv, ALONE_COLUMNS, alone_rows)
    write_text(zones_json, json.dumps(all_zones, indent=2) + "\n")
    return rows


def user_verdict(
    checkpoint: str | Path,
    train_path: str | Path,
    held_out_path: str | Path,
    far_paths: Sequence[str | Path],
    spectra: np.ndarray,
    settings: ApplicabilitySettings,
    direction: str = "exp2sim",
    device: str = "cpu",
) -> dict:
    """The verdict on a user's (n, *S) spectra: zone, mean distance and the thresholds.

    Zones are calibrated for sets of the user's size from ``held_out_path`` (the test file: its
    dataset of the direction's input domain) and the far-away files ('spectra').
    """
    if not far_paths:
        raise DataFileError("the verdict needs at least one far-away set to calibrate the zones")
    loaded = load_generator(Path(checkpoint), direction)
    train = spectrum_features(loaded, spectra_for(train_path, direction), device)
    user = spectrum_features(loaded, spectra, device)
    domain = INPUT_DATASETS[direction]
    held_out_data = read_h5(held_out_path, required=(domain,)).datasets[domain]
    held_out = spectrum_features(loaded, held_out_data, device)
    far = {
        Path(p).stem: spectrum_features(loaded, spectra_for(p, direction), device)
        for p in far_paths
    }
    size = min(len(user), settings.n_points)
    zones = sized_zones(train, held_out, far, size, settings, "held_out")
    (distances,) = distance_table(train, {"user": user}, settings).values()
    return {"direction": direction, "n_spectra": len(user), **verdict(distances, zones)}
