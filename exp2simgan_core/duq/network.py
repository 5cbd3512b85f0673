"""The DUQ network and its settings (package docstring: the model and the loss)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from exp2simgan_core.dataset import INTENSITY_SCALES
from exp2simgan_core.util import settings_from_config

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

    @classmethod
    def from_config(cls, section: Mapping[str, Any], seed: int) -> DuqSettings:
        """From the config's ``duq`` section and the run's seed."""
        return settings_from_config(cls, "duq", section, seed=seed)

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
