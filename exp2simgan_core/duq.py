"""Deterministic Uncertainty Quantification (DUQ) classifier of 2D spectra.

van Amersfoort et al., "Uncertainty Estimation Using a Single Deep Deterministic Neural
Network", ICML 2020. A CNN maps a spectrum to a feature vector f (``embedding_size``); one
matrix W_c per class maps f to z_c = W_c f (``centroid_size``); the output per class is the RBF
kernel ``K_c = exp(-mean((z_c - e_c)^2) / (2 length_scale^2))`` in [0, 1], where the centroid
``e_c = m_c / N_c`` follows an exponential moving average of the class's z_c after each
optimiser step. Loss: binary cross-entropy of the kernels against the one-hot labels plus
``gradient_penalty * mean((||d sum_c K_c / dx||_2 - 1)^2)`` (two-sided).

Spectra are (n, rows, cols) float32 intensities in any unit, NaN where uncovered; every network
input goes through ``exp2simgan_core.dataset.network_input`` (each spectrum divided by its mean
over covered bins, then mapped linearly or by its square root, ``intensity_scale``) with
``peak`` = the largest normalised intensity of the training spectra. In
the project, class 0 is the Dimer model and class 1 Goodenough.

A checkpoint is a dict with ``kind`` = "duq", ``state_dict``, ``settings`` (DuqSettings as a
dict), ``input_shape`` (rows, cols), ``n_classes``, ``class_names``, ``peak``, ``intensity``
(``dataset.INTENSITY_RULE``), ``history``,
``selected_epoch`` and ``code_version``; it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import binomtest
from torch import nn
from tqdm import tqdm

from exp2simgan_core import streams
from exp2simgan_core.dataset import (
    INTENSITY_RULE,
    INTENSITY_SCALES,
    check_spectra,
    network_input,
    normalised,
)
from exp2simgan_core.gan.checkpoint import mismatches, refuse_stale, save_atomically
from exp2simgan_core.version import code_version

CHECKPOINT_KIND = "duq"
INITIAL_COUNT = 13.0  # N_c before training
# Initial centroids e_c = m_c / N_c and matrices W_c: normal, standard deviation 0.05, as in the
# DUQ reference code. Centroids of standard deviation 1 put every embedding so far from them that
# all kernels start near exp(-50) and training can sit at chance for tens of epochs.
CENTROID_INIT_STD = 0.05
W_INIT_STD = 0.05  # standard deviation of the initial W_c entries


@dataclass(frozen=True)
class DuqSettings:
    """Architecture and training of a DUQ classifier (lengths in pixels, rates per step)."""

    # conv stages, each halves rows and columns; a stage of 3 x 3 kernels at stride 2 widens the
    # receptive field to 2^(stages + 1) - 1 pixels: 63 for five, wider than a 40-pixel panel
    channels: tuple[int, ...] = (16, 32, 64, 64, 64)
    pool_shape: tuple[int, int] = (6, 10)  # feature map after pooling: one cell per paper panel
    intensity_scale: str = "sqrt"  # dataset.network_input's map of [0, peak] to [-1, 1]
    embedding_size: int = 64  # feature vector f
    centroid_size: int = 64  # z_c = W_c f and the centroids e_c
    length_scale: float = 0.1  # RBF kernel width, in units of z
    gamma: float = 0.999  # EMA factor of the centroids
    gradient_penalty: float = 0.5  # weight of the two-sided gradient penalty
    lr: float = 1e-3  # Adam learning rate
    weight_decay: float = 1e-4  # Adam L2 penalty
    epochs: int = 30
    batch_size: int = 32
    validation_fraction: float = 0.2  # of each class of the training data, for epoch selection
    seed: int = 0

    def architecture(self) -> dict:
        """What a checkpoint must match to be used: the fields that shape the network's output."""
        return {
            "channels": list(self.channels),
            "pool_shape": list(self.pool_shape),
            "intensity_scale": self.intensity_scale,
            "embedding_size": self.embedding_size,
            "centroid_size": self.centroid_size,
            "length_scale": self.length_scale,
        }

    def validate(self) -> None:
        """Raise ValueError naming the first setting that cannot work."""

        def count(value) -> bool:
            return isinstance(value, int) and value >= 1

        checks = (
            ("channels", bool(self.channels) and all(map(count, self.channels)), "integers >= 1"),
            (
                "pool_shape",
                len(self.pool_shape) == 2 and all(map(count, self.pool_shape)),
                "two integers >= 1",
            ),
            (
                "intensity_scale",
                self.intensity_scale in INTENSITY_SCALES,
                f"one of {INTENSITY_SCALES}",
            ),
            ("embedding_size", count(self.embedding_size), "an integer >= 1"),
            ("centroid_size", count(self.centroid_size), "an integer >= 1"),
            ("length_scale", self.length_scale > 0, "> 0"),
            ("gamma", 0.0 < self.gamma < 1.0, "in (0, 1)"),
            ("gradient_penalty", self.gradient_penalty >= 0, ">= 0"),
            ("lr", self.lr > 0, "> 0"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("epochs", count(self.epochs), "an integer >= 1"),
            ("batch_size", count(self.batch_size), "an integer >= 1"),
            ("validation_fraction", 0.0 < self.validation_fraction < 1.0, "in (0, 1)"),
            ("seed", isinstance(self.seed, int) and self.seed >= 0, "an integer >= 0"),
        )
        for name, ok, requirement in checks:
            if not ok:
                value = getattr(self, name)
                raise ValueError(f"DuqSettings.{name} must be {requirement}, got {value!r}")


def _pool_matrix(n_in: int, n_out: int, like: torch.Tensor) -> torch.Tensor:
    """(n_out, n_in) averaging weights of adaptive average pooling along one axis.

    Pooling as a matrix product keeps the backward pass deterministic on every device.
    """
    weights = torch.zeros(n_out, n_in, dtype=like.dtype, device=like.device)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, math.ceil((i + 1) * n_in / n_out)
        weights[i, start:end] = 1.0 / (end - start)
    return weights


class DuqNet(nn.Module):
    """CNN features -> per-class embeddings z_c -> RBF kernels against EMA centroids.

    Each conv stage is a 3 x 3 convolution of stride 2, batch normalisation and ReLU (as in the
    DUQ reference networks); pooling to ``pool_shape`` and a linear layer with ReLU give f.
    Centroids are updated and spectra classified in eval mode (running statistics); in training
    mode the batch statistics couple the spectra of a batch, so the gradient penalty of one
    spectrum carries cross terms of order 1 / batch_size.
    """

    def __init__(self, settings: DuqSettings, n_classes: int):
        super().__init__()
        self.settings, self.n_classes = settings, n_classes
        stages, previous = [], 1
        for width in settings.channels:
            stages += [
                nn.Conv2d(previous, width, 3, stride=2, padding=1),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            ]
            previous = width
        self.features = nn.Sequential(*stages)
        rows, cols = settings.pool_shape
        self.embed = nn.Linear(previous * rows * cols, settings.embedding_size)
        shape = (n_classes, settings.centroid_size, settings.embedding_size)
        self.weight = nn.Parameter(torch.randn(shape) * W_INIT_STD)  # W_c
        self.register_buffer("counts", torch.full((n_classes,), INITIAL_COUNT))  # N_c
        sums = torch.randn(n_classes, settings.centroid_size) * CENTROID_INIT_STD * INITIAL_COUNT
        self.register_buffer("sums", sums)  # m_c

    def embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """(n, 1, rows, cols) network input in [-1, 1] -> z, (n, n_classes, centroid_size)."""
        h = self.features(x)  # (n, channels[-1], rows / 2^s, cols / 2^s)
        rows, cols = self.settings.pool_shape
        pooled = torch.einsum(
            "oh,nchw,pw->ncop",
            _pool_matrix(h.shape[2], rows, h),
            h,
            _pool_matrix(h.shape[3], cols, h),
        )  # (n, channels[-1], rows, cols)
        f = F.relu(self.embed(pooled.flatten(1)))  # (n, embedding_size)
        return torch.einsum("cde,ne->ncd", self.weight, f)

    def centroids(self) -> torch.Tensor:
        """e_c = m_c / N_c, (n_classes, centroid_size)."""
        return self.sums / self.counts[:, None]

    def kernels(self, z: torch.Tensor) -> torch.Tensor:
        """RBF kernel values in [0, 1], (n, n_classes), of embeddings z against the centroids."""
        squared = (z - self.centroids()[None]) ** 2  # (n, n_classes, centroid_size)
        return torch.exp(-squared.mean(dim=2) / (2.0 * self.settings.length_scale**2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.kernels(self.embeddings(x))

    @torch.no_grad()
    def update_centroids(self, x: torch.Tensor, one_hot: torch.Tensor) -> None:
        """EMA step: N_c <- gamma N_c + (1 - gamma) n_c, m_c <- gamma m_c + (1 - gamma) sum z_c."""
        gamma = self.settings.gamma
        z = self.embeddings(x)
        self.counts.mul_(gamma).add_((1.0 - gamma) * one_hot.sum(dim=0))
        self.sums.mul_(gamma).add_((1.0 - gamma) * torch.einsum("ncd,nc->cd", z, one_hot))


def gradient_penalty(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Two-sided penalty ``mean_i (||d sum_c K_c(x_i) / d x_i||_2 - 1)^2``, differentiable.

    ``x`` (n, ...) must require grad and ``kernels`` (n, n_classes) be computed from it; the
    gradient graph is kept (create_graph) so the penalty trains the network.
    """
    (grad,) = torch.autograd.grad(kernels.sum(), x, create_graph=True)
    norm = grad.flatten(start_dim=1).norm(p=2, dim=1)
    return ((norm - 1.0) ** 2).mean()


@dataclass(frozen=True)
class LoadedDuq:
    """A DUQ classifier in eval mode with what its input needs (shape, intensity peak)."""

    model: DuqNet
    settings: DuqSettings
    input_shape: tuple[int, int]  # (rows, cols) of the spectra it was trained on
    class_names: tuple[str, ...]  # index = class label
    peak: float  # normalised intensity mapped to 1 by network_input (dataset.INTENSITY_RULE)


@dataclass(frozen=True)
class DuqResult:
    """A trained classifier (weights of ``selected_epoch``) and one history row per epoch.

    History keys: epoch (1-based), train_loss (BCE + weighted penalty, mean over steps),
    train_bce, train_penalty, val_loss (BCE), val_accuracy (fraction), val_kernel_true (mean
    kernel of the true class), val_kernel_other (mean kernel of the other classes).
    """

    classifier: LoadedDuq
    history: tuple[dict[str, float], ...]
    selected_epoch: int


@dataclass(frozen=True)
class DuqOutput:
    """Per spectrum: kernels (n, n_classes) in [0, 1], predicted (n,) class, certainty = max K."""

    kernels: np.ndarray
    predicted: np.ndarray
    certainty: np.ndarray


def _validation_split(
    labels: np.ndarray, n_classes: int, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (train, validation) indices: round(fraction * n_c) of each class, >= 1 each."""
    train, val = [], []
    for c in range(n_classes):
        rows = np.flatnonzero(labels == c)
        if len(rows) < 2:
            raise ValueError(f"class {c} has {len(rows)} training spectra; it needs at least 2")
        n_val = min(max(round(fraction * len(rows)), 1), len(rows) - 1)
        rows = rng.permutation(rows)
        val.append(rows[:n_val])
        train.append(rows[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _inputs(model: DuqNet, spectra: np.ndarray, peak: float, device) -> torch.Tensor:
    """(b, rows, cols) spectra -> the network's (b, 1, rows, cols) input in [-1, 1]."""
    x = network_input(spectra, peak, model.settings.intensity_scale)
    return torch.from_numpy(x)[:, None].to(device)


@torch.no_grad()
def _kernels(model: DuqNet, spectra, peak: float, batch: int, device: torch.device) -> np.ndarray:
    model.eval()
    parts = [
        model(_inputs(model, spectra[start : start + batch], peak, device)).cpu().numpy()
        for start in range(0, len(spectra), batch)
    ]
    return np.concatenate(parts).astype(np.float64)


def _validation_row(kernels: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    one_hot = np.eye(kernels.shape[1], dtype=bool)[labels]
    clipped = np.clip(kernels, 1e-12, 1.0 - 1e-12)
    bce = -np.where(one_hot, np.log(clipped), np.log1p(-clipped)).mean()
    return {
        "val_loss": float(bce),
        "val_accuracy": float(np.mean(kernels.argmax(axis=1) == labels)),
        "val_kernel_true": float(kernels[one_hot].mean()),
        "val_kernel_other": float(kernels[~one_hot].mean()),
    }


def _check_labels(
    labels: np.ndarray, n: int, class_names: Sequence[str] | None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Labels (n,) in 0 .. n_classes - 1 and the class names (default "0", "1", ...)."""
    labels = np.asarray(labels)
    if labels.shape != (n,) or n == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be integers of shape ({n},) with n > 0, got {labels.dtype} {labels.shape}"
        )
    n_classes = len(class_names) if class_names is not None else int(labels.max()) + 1
    if n_classes < 2 or labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(
            f"labels span {labels.min()}..{labels.max()}; they must lie in 0..{n_classes - 1} "
            "with at least 2 classes"
        )
    names = tuple(map(str, range(n_classes))) if class_names is None else tuple(class_names)
    return labels, names


def train_duq(
    settings: DuqSettings,
    spectra: np.ndarray,
    labels: np.ndarray,
    progress: bool = True,
    *,
    class_names: Sequence[str] | None = None,
    device: str = "cpu",
) -> DuqResult:
    """Train a DUQ classifier on (n, rows, cols) spectra (NaN = uncovered) with labels (n,).

    ``labels`` are integers 0 .. n_classes - 1 (n_classes = len(class_names), or the largest
    label + 1 when no names are given; at least 2 classes of at least 2 spectra each). A
    stratified ``validation_fraction`` of the training spectra, drawn with ``settings.seed``,
    is held out; the returned weights are those of the epoch with the best validation accuracy
    (ties: lowest validation BCE). One seed gives the same weights on the same device.
    """
    settings.validate()
    spectra = check_spectra(spectra)
    labels, names = _check_labels(labels, len(spectra), class_names)
    peak = float(np.nanmax(normalised(spectra)[0]))
    if not peak > 0:
        raise ValueError(f"training spectra must have a positive maximum intensity, got {peak}")
    rng = streams.rng(settings.seed, "duq/batches")
    train_rows, val_rows = _validation_split(labels, len(names), settings.validation_fraction, rng)
    dev = torch.device(device)
    torch.manual_seed(streams.torch_seed(settings.seed, "duq/weights"))
    model = DuqNet(settings, len(names)).to(dev)
    optimiser = torch.optim.Adam(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    history: list[dict[str, float]] = []
    best: tuple[float, float] | None = None
    bar = tqdm(range(1, settings.epochs + 1), desc="DUQ", disable=not progress, unit="epoch")
    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True):
        for epoch in bar:
            order = rng.permutation(train_rows)
            steps = np.array_split(order, math.ceil(len(order) / settings.batch_size))
            terms = np.array(
                [_train_step(model, optimiser, spectra[i], labels[i], peak, dev) for i in steps]
            )  # (steps, 2): BCE, penalty
            bce, penalty = terms.mean(axis=0)
            kernels = _kernels(model, spectra[val_rows], peak, settings.batch_size, dev)
            row = {
                "epoch": epoch,
                "train_loss": float(bce + settings.gradient_penalty * penalty),
                "train_bce": float(bce),
                "train_penalty": float(penalty),
                **_validation_row(kernels, labels[val_rows]),
            }
            history.append(row)
            bar.set_postfix(loss=f"{row['train_loss']:.4f}", val_acc=f"{row['val_accuracy']:.3f}")
            if best is None or (row["val_accuracy"], -row["val_loss"]) > best:
                best, selected = (row["val_accuracy"], -row["val_loss"]), epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    classifier = LoadedDuq(model, settings, spectra.shape[1:], names, peak)
    return DuqResult(classifier, tuple(history), selected)


def _train_step(model, optimiser, spectra, labels, peak: float, device) -> tuple[float, float]:
    """One optimiser step and centroid update; returns (BCE, gradient penalty) of the batch."""
    model.train()
    x = _inputs(model, spectra, peak, device)
    one_hot = F.one_hot(torch.from_numpy(labels).long(), model.n_classes).float().to(device)
    weight = model.settings.gradient_penalty
    x.requires_grad_(weight > 0)
    kernels = model(x)
    bce = F.binary_cross_entropy(kernels, one_hot)
    penalty = gradient_penalty(x, kernels) if weight > 0 else torch.zeros((), device=device)
    optimiser.zero_grad()
    (bce + weight * penalty).backward()
    optimiser.step()
    model.eval()
    model.update_centroids(x.detach(), one_hot)
    return float(bce.detach()), float(penalty.detach())


def classify(
    loaded: LoadedDuq, spectra: np.ndarray, batch: int = 32, *, device: str = "cpu"
) -> DuqOutput:
    """Kernel values of (n, rows, cols) spectra (NaN = uncovered) of the classifier's shape.

    Raises ValueError for another rank or shape, and naming the spectrum index, for Inf or a
    spectrum that is NaN everywhere.
    """
    spectra = check_spectra(spectra, loaded.input_shape, "the classifier")
    dev = torch.device(device)
    kernels = _kernels(loaded.model.to(dev), spectra, loaded.peak, batch, dev)
    return DuqOutput(
        kernels=kernels, predicted=kernels.argmax(axis=1), certainty=kernels.max(axis=1)
    )


def save_duq(path: str | Path, trained: DuqResult | LoadedDuq) -> None:
    """Write a classifier (with its history when given a DuqResult) atomically to ``path``."""
    classifier = trained.classifier if isinstance(trained, DuqResult) else trained
    state = {
        "kind": CHECKPOINT_KIND,
        "state_dict": {k: v.cpu() for k, v in classifier.model.state_dict().items()},
        "settings": asdict(classifier.settings),
        "input_shape": list(classifier.input_shape),
        "n_classes": classifier.model.n_classes,
        "class_names": list(classifier.class_names),
        "peak": classifier.peak,
        "intensity": INTENSITY_RULE,
        "history": list(trained.history) if isinstance(trained, DuqResult) else [],
        "selected_epoch": trained.selected_epoch if isinstance(trained, DuqResult) else None,
        "code_version": code_version(),
    }
    save_atomically(state, Path(path))


def load_duq(
    path: str | Path,
    expected_shape: tuple[int, int] | None = None,
    expected_settings: DuqSettings | None = None,
) -> LoadedDuq:
    """Read a DUQ checkpoint (eval mode, CPU).

    Raises ValueError when the file is not a DUQ checkpoint, is stale (``refuse_stale``), when its
    spectra size differs from ``expected_shape`` (rows, cols), or its architecture from
    ``expected_settings`` (each differing field named).
    """
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several unrelated types for foreign files
        raise ValueError(f"{path} is not a DUQ checkpoint: torch.load failed ({err})") from err
    if not isinstance(state, dict) or state.get("kind") != CHECKPOINT_KIND:
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path} is not a DUQ checkpoint (kind != 'duq'; it holds {keys})")
    refuse_stale(Path(path), state)
    if state.get("intensity") != INTENSITY_RULE:
        raise ValueError(
            f"{path} was trained on intensities that are not normalised ({INTENSITY_RULE!r}) "
            "by an older version; retrain it"
        )
    settings = _stored_settings(path, state["settings"])
    if (
        expected_settings is not None
        and settings.architecture() != expected_settings.architecture()
    ):
        diff = mismatches(settings.architecture(), expected_settings.architecture())
        raise ValueError(f"{path} holds another DUQ architecture: {'; '.join(diff)}")
    shape = (int(state["input_shape"][0]), int(state["input_shape"][1]))
    if expected_shape is not None and tuple(expected_shape) != shape:
        raise ValueError(
            f"{path} was trained on {shape[0]} x {shape[1]} spectra, not "
            f"{expected_shape[0]} x {expected_shape[1]}"
        )
    model = DuqNet(settings, int(state["n_classes"]))
    model.load_state_dict(state["state_dict"])
    model.eval()
    return LoadedDuq(model, settings, shape, tuple(state["class_names"]), float(state["peak"]))


def _stored_settings(path: str | Path, stored: dict) -> DuqSettings:
    known = {f.name for f in fields(DuqSettings)}
    if set(stored) != known:
        raise ValueError(
            f"{path} holds DUQ settings with fields {sorted(set(stored) ^ known)} added or "
            "missing; it was written by another version of the classifier"
        )
    tuples = {"channels": tuple(stored["channels"]), "pool_shape": tuple(stored["pool_shape"])}
    return DuqSettings(**{**stored, **tuples})


def accuracy_with_ci(correct: np.ndarray) -> tuple[float, float, float]:
    """(accuracy, low, high) as fractions: Wilson score 95 % interval of boolean outcomes (n,)
    (scipy's ``binomtest(...).proportion_ci(method="wilson")``, no continuity correction).

    >>> [round(v, 3) for v in accuracy_with_ci(np.array([True] * 8 + [False] * 2))]
    [0.8, 0.49, 0.943]
    """
    correct = np.asarray(correct)
    if correct.ndim != 1 or correct.dtype != bool or len(correct) == 0:
        raise ValueError(
            f"correct must be a non-empty 1D boolean array, got {correct.dtype} {correct.shape}"
        )
    interval = binomtest(int(correct.sum()), len(correct)).proportion_ci(0.95, method="wilson")
    return float(correct.mean()), float(interval.low), float(interval.high)
