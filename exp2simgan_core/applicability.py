"""Applicability domain: how far a set of spectra lies from the GAN's training data.

Features. A spectrum is described by the activations of a generator's encoder just before its
residual blocks (``ENCODER_LAYER``, the output of the last anti-aliased down-sampling, 4 * ngf
channels at 1/4 resolution). The paper flattened that map, which ties the feature vector to one
spectrum size; here each channel is average-pooled onto a fixed ``FEATURE_GRID``-per-axis grid
first (4 x 4 for images, 4 x 4 x 4 for volumes) and then flattened, so spectra of any size map to
one vector of ``4 * ngf * FEATURE_GRID ** dims`` numbers (4096 for the paper's 2D generator) that
keeps coarse spatial layout. Features are activations of inputs scaled to [-1, 1]: dimensionless.

Distances. For a target set, ``n_repeats`` times: draw ``n_points`` training features and
``n_points`` (or ``set_points``) features of the set (without replacement; all of the set when
it is smaller), give each point uniform weight, and solve entropic optimal transport with the
squared-Euclidean cost. The reported number is the Sinkhorn distance of Cuturi (2013), the
transport cost <P, C> of the entropic optimal plan P (not the regularised objective, not the
debiased Sinkhorn divergence), in squared feature units. Thresholds between three zones
(trustworthy, expert opinion, untrustworthy) come from quantiles of held-out in-domain and known
out-of-domain distances.

One spectrum alone. With one point on the set's side the transport plan is forced: a single
spectrum's Sinkhorn distance is its mean squared distance to the drawn training points, over the
repeats its squared distance to the training mean plus the training spread. That ranks spectra by
how central they are, so a spectrum of another Hamiltonian near the middle of the training cloud
passes. A single spectrum is therefore rated by ``nearest_distances``: its mean squared distance
to its ``k_nearest`` nearest training features, which is also the cheapest transport of its unit
mass onto any ``k_nearest`` training points of mass 1 / ``k_nearest`` each (nearest-neighbour
out-of-distribution detection on deep features, Sun et al., ICML 2022).
The repeats are solved together by ``exp2simgan_core.sinkhorn.transport_costs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import ot
import torch
import torch.nn.functional as F

from exp2simgan_core import streams
from exp2simgan_core.gan.checkpoint import LoadedGenerator
from exp2simgan_core.gan.settings import N_DOWNSAMPLING
from exp2simgan_core.io import DataFileError, read_h5, write_h5
from exp2simgan_core.sinkhorn import transport_costs
from exp2simgan_core.util import evaluating, settings_from_config

ENCODER_LAYER = 3 + 4 * N_DOWNSAMPLING  # 11: the last Downsample, just before the residual blocks
FEATURE_GRID = 4  # bins per spatial axis each feature channel is average-pooled onto
ZONES = ("trustworthy", "expert_opinion", "untrustworthy")


@dataclass(frozen=True)
class ApplicabilitySettings:
    """Repeated entropic-OT distances between training and target features (paper: 1000 x 20)."""

    n_repeats: int = 1000  # independent draws per target set
    n_points: int = 20  # features drawn from each side per repeat (all of a smaller set)
    set_points: int | None = None  # draw this many from the set instead (zones for small sets)
    reg: float = 0.05  # entropic regularisation, as a fraction of the mean training pair cost
    seed: int = 0
    tol: float = 1e-4  # POT's stop rule: L2 norm of the row-marginal error (total mass 1)
    max_iter: int = 10000  # Sinkhorn iterations before giving up with a warning
    k_nearest: int = 5  # training features a single spectrum is measured against

    @classmethod
    def from_config(cls, section: Mapping[str, Any], seed: int) -> ApplicabilitySettings:
        """From the config's ``applicability`` section and the run's seed."""
        return settings_from_config(cls, "applicability", section, seed=seed)

    def __post_init__(self) -> None:
        if self.set_points is not None and self.set_points < 1:
            raise ValueError(f"set_points must be >= 1 or None, got {self.set_points}")
        for name in ("n_repeats", "n_points", "max_iter", "k_nearest"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("reg", "tol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")


def spectrum_features(
    loaded: LoadedGenerator, spectra: np.ndarray, device: str = "cpu", batch: int = 8
) -> np.ndarray:
    """Pooled encoder features (n, 4 * ngf * FEATURE_GRID ** dims), float64, of (n, *S) spectra.

    ``spectra`` are in ``loaded.input_domain`` (Exp2Sim's encoder reads convolved spectra,
    Sim2Exp's unconvolved ones), in any intensity unit, NaN = uncovered; shape
    (n, rows, cols) for a 2D generator or (n, H, K, E) for a 3D one, every axis >= MIN_FULL_SIZE
    bins. They are preprocessed as the GAN reads them (``DataScaling.network_input``: divided by
    their mean over covered bins, NaN -> 0, scaled with the input domain's maximum). ``batch``
    spectra pass the encoder at once.
    Raises ValueError on spectra that ``loaded.check_input`` refuses, naming the problem.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    x = loaded.check_input(spectra)
    generator = loaded.generator.to(device)
    dims = generator.settings.dims
    pool = F.adaptive_avg_pool2d if dims == 2 else F.adaptive_avg_pool3d
    out = []
    with evaluating(generator), torch.no_grad():
        for start in range(0, len(x), batch):
            scaled = loaded.scaling.network_input(
                x[start : start + batch], loaded.input_domain, device
            )
            (feature,) = generator.encode(scaled, (ENCODER_LAYER,))  # (b, 4 ngf, *ceil(S / 4))
            pooled = pool(feature, (FEATURE_GRID,) * dims)  # (b, 4 ngf, *grid)
            out.append(pooled.flatten(1).double().cpu().numpy())
    return np.concatenate(out)


def _check_features(name: str, features: np.ndarray) -> np.ndarray:
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) == 0:
        raise ValueError(f"{name} features have shape {f.shape}; need (n, d) with n >= 1")
    if not np.isfinite(f).all():
        raise ValueError(f"{name} features contain NaN or Inf")
    return f


def _check_pair(train_features: np.ndarray, set_features: np.ndarray):
    """Both feature arrays checked (``_check_features``) and of one dimension, as float64."""
    train = _check_features("training", train_features)
    target = _check_features("set", set_features)
    if train.shape[1] != target.shape[1]:
        raise ValueError(
            f"training features have {train.shape[1]} dimensions, the set's {target.shape[1]}; "
            "compute both with the same generator"
        )
    return train, target


def regularisation(train_features: np.ndarray, settings: ApplicabilitySettings) -> float:
    """Absolute entropic regularisation: ``settings.reg`` times the mean training pair cost.

    The mean squared-Euclidean cost over all ordered pairs of the (n, d) training features is
    2 * sum_k var_k (population variances). One value per training set, so every target set (and a
    user's spectra) is measured with the same functional. Raises ValueError for zero spread.
    """
    train = _check_features("training", train_features)
    mean_cost = 2.0 * float(train.var(axis=0).sum())
    if not mean_cost > 0:
        raise ValueError("training features have zero spread; the regularisation would be 0")
    return settings.reg * mean_cost


def draw_indices(
    n_train: int, n_set: int, settings: ApplicabilitySettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of training and set indices per repeat: (n_repeats, k) and (n_repeats, m).

    k = min(n_points, n_train), m = min(set_points or n_points, n_set); each row is drawn without
    replacement, repeat by repeat (training, then set); a side with at most that many points uses
    all of them.
    """
    k = min(settings.n_points, n_train)
    m = min(settings.set_points or settings.n_points, n_set)
    train_idx = np.empty((settings.n_repeats, k), dtype=np.intp)
    set_idx = np.empty((settings.n_repeats, m), dtype=np.intp)
    for r in range(settings.n_repeats):
        train_idx[r] = rng.choice(n_train, k, replace=False) if k < n_train else np.arange(k)
        set_idx[r] = rng.choice(n_set, m, replace=False) if m < n_set else np.arange(m)
    return train_idx, set_idx


def sinkhorn_distances(
    train_features: np.ndarray,
    set_features: np.ndarray,
    settings: ApplicabilitySettings,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Sinkhorn distances (n_repeats,) between random draws of training and set features.

    ``train_features`` (n_train, d) and ``set_features`` (n_set, d): ``spectrum_features`` of one
    generator. The squared-Euclidean cost matrix between ALL training and ALL set features is
    computed once (n_train x n_set float64 in memory); each repeat indexes the rows and columns of
    its draw (``draw_indices``), and all repeats are solved in one batch with regularisation
    ``regularisation(train_features, settings)``. Each value is <P, C>, the transport cost of the
    entropic optimal plan with uniform weights (>= the exact earth mover's cost, approaching it as
    reg -> 0), in squared feature units. ``rng``: a Generator, a seed, or None for the named stream
    ``"applicability"`` under settings.seed.

    >>> sinkhorn_distances(train, held_out, ApplicabilitySettings(), rng=0)  # doctest: +SKIP
    """
    train, target = _check_pair(train_features, set_features)
    reg = regularisation(train, settings)
    if rng is None:
        rng = streams.rng(settings.seed, "applicability")
    train_idx, set_idx = draw_indices(len(train), len(target), settings, np.random.default_rng(rng))
    cost = ot.dist(train, target, metric="sqeuclidean")  # (n_train, n_set)
    costs = torch.from_numpy(cost[train_idx[:, :, None], set_idx[:, None, :]])  # (R, k, m)
    return transport_costs(costs, reg, settings.tol, settings.max_iter).numpy()


def nearest_distances(
    train_features: np.ndarray, features: np.ndarray, settings: ApplicabilitySettings
) -> np.ndarray:
    """Each spectrum's mean squared distance to its k nearest training features, (n,).

    ``train_features`` (n_train, d) and ``features`` (n, d): ``spectrum_features`` of one
    generator; k = min(settings.k_nearest, n_train). Squared feature units, as the Sinkhorn
    distances; deterministic (no draws). The statistic by which a single spectrum is rated (see
    the module docstring).
    """
    train, target = _check_pair(train_features, features)
    k = min(settings.k_nearest, len(train))
    cost = ot.dist(target, train, metric="sqeuclidean")  # (n, n_train)
    return np.partition(cost, k - 1, axis=1)[:, :k].mean(axis=1)


def set_rng(seed: int, name: str) -> np.random.Generator:
    """Random stream of the target set ``name``: fixed by (seed, name), independent of others."""
    return streams.rng(seed, f"applicability/{name}")


def distance_table(
    train_features: np.ndarray,
    sets: Mapping[str, np.ndarray],
    settings: ApplicabilitySettings,
) -> dict[str, np.ndarray]:
    """``sinkhorn_distances`` of each named (n_set, d) feature set, each with ``set_rng(seed,
    name)``, so adding or removing a set leaves the others' distances unchanged."""
    return {
        name: sinkhorn_distances(train_features, features, settings, set_rng(settings.seed, name))
        for name, features in sets.items()
    }


@dataclass(frozen=True)
class Zones:
    """Sinkhorn-distance thresholds (squared feature units) of the three zones.

    trustworthy: d <= trust_max; expert_opinion: trust_max < d < untrust_min; untrustworthy:
    d >= untrust_min. ``derivation`` records how the thresholds were obtained.
    """

    trust_max: float
    untrust_min: float
    derivation: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"trust_max": self.trust_max, "untrust_min": self.untrust_min, **self.derivation}

    @classmethod
    def from_dict(cls, data: Mapping) -> Zones:
        rest = {k: v for k, v in data.items() if k not in ("trust_max", "untrust_min")}
        return cls(float(data["trust_max"]), float(data["untrust_min"]), rest)


def _check_distances(name: str, values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).ravel()
    if len(v) == 0 or not np.isfinite(v).all():
        raise ValueError(f"{name} distances must be a non-empty array of finite numbers")
    return v


def calibrate_zones(
    held_out: np.ndarray,
    out_of_domain: np.ndarray,
    trust_quantile: float = 0.95,
    untrust_quantile: float = 0.05,
    held_out_sets: Sequence[str] = (),
    out_of_domain_sets: Sequence[str] = (),
) -> Zones:
    """Zone thresholds from distances of held-out in-domain and of known out-of-domain sets.

    trust_max = the ``trust_quantile`` of ``held_out`` (pooled repeats of the held-out sets);
    untrust_min = the ``untrust_quantile`` of ``out_of_domain`` (numpy's linear quantiles). When
    the out-of-domain quantile lies below trust_max the distributions overlap; held-out data
    take precedence and untrust_min = trust_max, leaving no expert-opinion zone (recorded as
    ``overlap`` in the derivation). The ``*_sets`` names are recorded only.
    """
    held = _check_distances("held-out", held_out)
    ood = _check_distances("out-of-domain", out_of_domain)
    for name, q in (("trust_quantile", trust_quantile), ("untrust_quantile", untrust_quantile)):
        if not 0.0 < q < 1.0:
            raise ValueError(f"{name} must lie strictly between 0 and 1, got {q}")
    trust_max = float(np.quantile(held, trust_quantile))
    ood_quantile = float(np.quantile(ood, untrust_quantile))
    derivation = {
        "trust_quantile": trust_quantile,
        "untrust_quantile": untrust_quantile,
        "held_out_sets": list(held_out_sets),
        "out_of_domain_sets": list(out_of_domain_sets),
        "n_held_out": len(held),
        "n_out_of_domain": len(ood),
        "out_of_domain_quantile": ood_quantile,
        "overlap": ood_quantile < trust_max,
        "rule": "trustworthy: d <= trust_max; expert_opinion: trust_max < d < untrust_min; "
        "untrustworthy: d >= untrust_min",
    }
    return Zones(trust_max, max(ood_quantile, trust_max), derivation)


def zone_of(value: float, zones: Zones) -> str:
    """'trustworthy', 'expert_opinion' or 'untrustworthy' for one Sinkhorn distance."""
    if not np.isfinite(value):
        raise ValueError(f"a distance must be finite to be zoned, got {value}")
    if value <= zones.trust_max:
        return ZONES[0]
    return ZONES[1] if value < zones.untrust_min else ZONES[2]


def summary_rows(direction: str, distances: Mapping[str, np.ndarray], zones: Zones) -> list[dict]:
    """One row per set: direction, set, mean, std (over repeats, ddof=0), zone of the mean."""
    rows = []
    for name, values in distances.items():
        v = _check_distances(name, values)
        mean = float(v.mean())
        rows.append(
            {
                "direction": direction,
                "set": name,
                "mean": mean,
                "std": float(v.std()),
                "zone": zone_of(mean, zones),
            }
        )
    return rows


def verdict(distances_of_user: np.ndarray, zones: Zones) -> dict:
    """JSON-ready verdict on a user's spectra: zone of the mean distance, mean, std, thresholds.

    Distances of a set with fewer than n_points spectra are larger than those of a full draw
    from the same distribution, so compare them with zones calibrated on sets drawn as many at a
    time (``set_points``). A single spectrum is rated by ``nearest_distances`` instead.
    """
    v = _check_distances("user", distances_of_user)
    mean = float(v.mean())
    return {
        "zone": zone_of(mean, zones),
        "mean_distance": mean,
        "std_distance": float(v.std()),
        "n_repeats": len(v),
        "thresholds": zones.to_dict(),
    }


@dataclass(frozen=True)
class DistanceRecord:
    """Contents of a distance file written by ``write_distances``."""

    direction: str
    distances: dict[str, np.ndarray]
    settings: ApplicabilitySettings
    zones: Zones | None


def write_distances(
    path: str | Path,
    direction: str,
    distances: Mapping[str, np.ndarray],
    settings: ApplicabilitySettings,
    zones: Zones | None = None,
) -> None:
    """Write the distances as one (n_sets, n_repeats) float64 dataset 'distances', rows in the
    order of attribute 'sets', with the direction, settings and zones as attributes."""
    names = list(distances)
    if not names:
        raise ValueError("no distance sets to write")
    table = np.stack([_check_distances(name, distances[name]) for name in names])
    attrs = {
        "direction": direction,
        "sets": names,
        "settings": asdict(settings),
        "zones": None if zones is None else zones.to_dict(),
    }
    write_h5(path, {"distances": table}, attrs)


def read_distances(path: str | Path) -> DistanceRecord:
    """Read a file of ``write_distances``; raises DataFileError naming what is missing."""
    data = read_h5(path, required=["distances"])
    missing = [k for k in ("direction", "sets", "settings", "zones") if k not in data.attrs]
    if missing:
        raise DataFileError(f"{path}: not a distance file, missing attribute(s) {missing}")
    table, names = data.datasets["distances"], data.attrs["sets"]
    if table.ndim != 2 or len(table) != len(names):
        raise DataFileError(f"{path}: 'distances' of shape {table.shape} for {len(names)} sets")
    zones = data.attrs["zones"]
    return DistanceRecord(
        direction=data.attrs["direction"],
        distances=dict(zip(names, table, strict=True)),
        settings=ApplicabilitySettings(**data.attrs["settings"]),
        zones=None if zones is None else Zones.from_dict(zones),
    )
