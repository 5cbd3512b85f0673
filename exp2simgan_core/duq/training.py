"""Training a DUQ classifier, classifying spectra with it, and the accuracy interval."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import binomtest
from tqdm import tqdm

from exp2simgan_core import streams
from exp2simgan_core.dataset import check_spectra, network_input, normalised
from exp2simgan_core.duq.network import DuqNet, DuqSettings, gradient_penalty


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
