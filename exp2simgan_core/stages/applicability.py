"""File-level applicability stage: distances of every set to the training set, zones, verdicts.

For one direction, the selected checkpoint's generator of that direction supplies the features
(``applicability.spectrum_features``; Exp2Sim's encoder reads convolved spectra, Sim2Exp's
unconvolved ones), every named set is fed to it as it is, and ``distance_table`` measures it
against the training spectra of the encoder's input domain.

Zones are calibrated per set size. A set smaller than ``n_points`` is compared, in every
repeat, as a whole with ``n_points`` training points, which gives larger distances than two full
draws from the same distribution. So for every such size m >= 2 the zones are calibrated again
from the held-out test set and the far-away sets drawn m points at a time (``sized_zones``).
A single spectrum (a measurement as it arrives) is rated by its mean squared distance to its
``k_nearest`` nearest training features (``applicability.nearest_distances``; its Sinkhorn
distance only measures how central it is), with zones from that distance of each held-out and
each far-away spectrum. Each set's zone uses the thresholds of its own size;
``applicability_zones.json`` records every calibration with its derivation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from exp2simgan_core.applicability import (
    ApplicabilitySettings,
    Zones,
    calibrate_zones,
    distance_table,
    nearest_distances,
    spectrum_features,
    summary_rows,
    verdict,
    write_distances,
    zone_of,
)
from exp2simgan_core.dataset import spectra_for
from exp2simgan_core.gan.checkpoint import load_generator
from exp2simgan_core.io import DataFileError, check_writable, read_h5, write_csv, write_text
from exp2simgan_core.util import resolve_device
from exp2simgan_core.vocabulary import DIRECTIONS, EXP2SIM
from exp2simgan_core.vocabulary import direction as get_direction

SUMMARY_COLUMNS = ("direction", "set", "n_spectra", "measure", "mean", "std", "zone")
ALONE_COLUMNS = ("direction", "set", "spectrum", "measure", "distance", "zone")
SINKHORN = "sinkhorn"  # the measure of sets of two or more: mean over the repeats
HELD_OUT = {name: f"test_{d.source}" for name, d in DIRECTIONS.items()}  # in-domain, unseen
FAR_SETS = ("digits", "photos")  # out of domain by construction


def set_spectra(sources: Mapping[str, tuple[str | Path, str | None]]) -> dict[str, np.ndarray]:
    """Named spectra: set -> (file, dataset or None for 'spectra')."""
    return {
        name: read_h5(path, required=(dataset or "spectra",)).datasets[dataset or "spectra"]
        for name, (path, dataset) in sources.items()
    }


def nearest_measure(settings: ApplicabilitySettings) -> str:
    """The name of the single-spectrum measure in the tables, e.g. 'nearest_5'."""
    return f"nearest_{settings.k_nearest}"


def sized_zones(
    train: np.ndarray,
    held_out: np.ndarray,
    far: Mapping[str, np.ndarray],
    size: int,
    settings: ApplicabilitySettings,
    held_out_name: str,
) -> Zones:
    """Zones for sets of ``size`` spectra, from the held-out features and the far-away sets.

    For sets of two or more, a set's zone is that of its mean Sinkhorn distance over the repeats,
    and the thresholds are quantiles of the pooled repeats of the held-out set and of the far
    sets drawn ``size`` at a time. A single spectrum's zone is that of its ``nearest_distances``,
    and the thresholds are quantiles of that distance of each held-out and each far-away
    spectrum.
    """
    if size > 1:
        distances = distance_table(
            train, {held_out_name: held_out, **far}, replace(settings, set_points=size)
        )
        return calibrate_zones(
            distances[held_out_name],
            np.concatenate([distances[name] for name in far]),
            held_out_sets=[f"{held_out_name} ({size} at a time)"],
            out_of_domain_sets=[f"{name} ({size} at a time)" for name in far],
        )
    measure = nearest_measure(settings)
    zones = calibrate_zones(
        nearest_distances(train, held_out, settings),
        np.concatenate([nearest_distances(train, x, settings) for x in far.values()]),
        held_out_sets=[f"{held_out_name} (each spectrum, {measure})"],
        out_of_domain_sets=[f"{name} (each spectrum, {measure})" for name in far],
    )
    description = (
        f"mean squared feature distance to the {settings.k_nearest} nearest training spectra"
    )
    return replace(
        zones, derivation={**zones.derivation, "measure": measure, "distance": description}
    )


def _check_sets(direction: str, names: Iterable[str]) -> None:
    """Raise ValueError naming the held-out and far-away sets ``direction`` needs but lacks."""
    present = set(names)
    missing = [s for s in (HELD_OUT[direction], *FAR_SETS) if s not in present]
    if missing:
        raise ValueError(f"the applicability sets lack {missing}, needed to calibrate the zones")


@dataclass(frozen=True)
class DirectionDistances:
    """One direction's measurements: Sinkhorn distances of every set (name -> (n_repeats,)),
    each spectrum's nearest-neighbour distance (name -> (n,)) and the zones per set size."""

    sinkhorn: dict[str, np.ndarray]
    nearest: dict[str, np.ndarray]
    zones: dict[int, Zones]


def direction_distances(
    checkpoint: str | Path,
    direction: str,
    train_path: str | Path,
    sets: Mapping[str, np.ndarray],
    settings: ApplicabilitySettings,
    device: str = "cpu",
    alone: Sequence[str] = (),
) -> DirectionDistances:
    """Distances of every set and the zones per set size, for one direction.

    ``sets`` must include the held-out set ``HELD_OUT[direction]`` and ``FAR_SETS``. Zones are
    calibrated for every set size present, under ``n_points`` (full draws above), and for single
    spectra also when sets are named in ``alone`` (their spectra rated one at a time, as a user's
    measurements arrive). Nearest-neighbour distances are computed for those sets and for sets
    of one spectrum, the ones rated by them.
    """
    _check_sets(direction, sets)
    loaded = load_generator(Path(checkpoint), direction)
    train = spectrum_features(loaded, spectra_for(train_path, direction), device)
    features = {
        name: train if name == "train" else spectrum_features(loaded, x, device)
        for name, x in sets.items()
    }
    far = {s: features[s] for s in FAR_SETS}
    held_out = features[HELD_OUT[direction]]
    sizes = {min(len(x), settings.n_points) for x in features.values()} | ({1} if alone else set())
    rated_alone = {name for name, x in features.items() if len(x) == 1 or name in alone}
    return DirectionDistances(
        sinkhorn=distance_table(train, features, settings),
        nearest={name: nearest_distances(train, features[name], settings) for name in rated_alone},
        zones={
            size: sized_zones(train, held_out, far, size, settings, HELD_OUT[direction])
            for size in sorted(sizes)
        },
    )


def _summary_row(
    direction: str, name: str, n: int, measured: DirectionDistances, n_points: int, measure: str
) -> dict:
    """The summary row of a set of ``n`` spectra: its mean Sinkhorn distance, or a single
    spectrum's nearest-neighbour distance."""
    if n == 1:
        distance = float(measured.nearest[name][0])
        row = {
            "direction": direction,
            "set": name,
            "mean": distance,
            "std": 0.0,
            "measure": measure,
        }
        return {**row, "zone": zone_of(distance, measured.zones[1]), "n_spectra": 1}
    (row,) = summary_rows(
        direction, {name: measured.sinkhorn[name]}, measured.zones[min(n, n_points)]
    )
    return {**row, "measure": SINKHORN, "n_spectra": n}


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
    output HDF5 of the Sinkhorn distances (its stored zones, drawn in the ridgeline, are those of
    the largest set size: full draws of ``n_points`` when a set has that many). The summary table
    (``SUMMARY_COLUMNS``) rates each set by its mean Sinkhorn distance, a set of one spectrum by
    its nearest-neighbour distance. Each spectrum of the sets in ``alone`` is also rated on its
    own in ``alone_csv``: one row per spectrum and direction, ``ALONE_COLUMNS``.
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
    device = resolve_device(device)
    measure = nearest_measure(settings)
    rows, alone_rows, all_zones = [], [], {}
    for direction, out in distance_files.items():
        measured = direction_distances(
            checkpoint, direction, train_path, sets, settings, device, alone
        )
        rows += [
            _summary_row(direction, name, len(x), measured, settings.n_points, measure)
            for name, x in sets.items()
        ]
        for name in alone:
            for i, distance in enumerate(measured.nearest[name]):
                zone = zone_of(float(distance), measured.zones[1])
                alone_rows.append(
                    {"direction": direction, "set": name, "spectrum": i, "measure": measure,
                     "distance": float(distance), "zone": zone}
                )  # fmt: skip
        zones = measured.zones
        write_distances(out, direction, measured.sinkhorn, settings, zones[max(zones)])
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
    direction: str = EXP2SIM,
    device: str = "cpu",
) -> dict:
    """The verdict on a user's (n, *S) spectra: zone, distance and the thresholds.

    Two or more spectra: their mean Sinkhorn distance (``verdict``); one spectrum: its
    nearest-neighbour distance (``measure`` names which).

    Zones are calibrated for sets of the user's size from ``held_out_path`` (the test file: its
    dataset of the direction's input domain) and the far-away files ('spectra').
    """
    if not far_paths:
        raise DataFileError("the verdict needs at least one far-away set to calibrate the zones")
    loaded = load_generator(Path(checkpoint), direction)
    device = resolve_device(device)
    domain = get_direction(direction).source
    data = [
        (train_path, spectra_for(train_path, direction)),
        (held_out_path, read_h5(held_out_path, required=(domain,)).datasets[domain]),
        *((p, spectra_for(p, direction)) for p in far_paths),
    ]
    shape = data[0][1].shape[1:]
    for path, x in (*data, ("the spectra rated", np.asarray(spectra))):
        if x.shape[1:] != shape:  # before any features are computed
            raise DataFileError(
                f"{path}: spectra of shape {x.shape[1:]}, the training spectra's are {shape}"
            )
    train, held_out, *far_features = (spectrum_features(loaded, x, device) for _, x in data)
    user = spectrum_features(loaded, spectra, device)
    far = {Path(p).stem: f for p, f in zip(far_paths, far_features, strict=True)}
    size = min(len(user), settings.n_points)
    zones = sized_zones(train, held_out, far, size, settings, "held_out")
    if len(user) == 1:
        (distance,) = nearest_distances(train, user, settings)
        return {
            "direction": direction,
            "n_spectra": 1,
            "measure": nearest_measure(settings),
            "zone": zone_of(float(distance), zones),
            "distance": float(distance),
            "thresholds": zones.to_dict(),
        }
    (distances,) = distance_table(train, {"user": user}, settings).values()
    return {
        "direction": direction,
        "n_spectra": len(user),
        "measure": SINKHORN,
        **verdict(distances, zones),
    }
