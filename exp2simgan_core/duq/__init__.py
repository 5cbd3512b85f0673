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
``peak`` = the largest normalised intensity of the training spectra. In the project, class 0 is
the Dimer model and class 1 Goodenough.

``network``: settings and the network; ``training``: training, classification and the accuracy
interval; ``checkpoint``: the file format.
"""

from exp2simgan_core.duq.checkpoint import CHECKPOINT_KIND, load_duq, save_duq
from exp2simgan_core.duq.network import INITIAL_COUNT, DuqNet, DuqSettings, gradient_penalty
from exp2simgan_core.duq.training import (
    DuqOutput,
    DuqResult,
    LoadedDuq,
    accuracy_with_ci,
    classify,
    train_duq,
)

__all__ = [
    "CHECKPOINT_KIND",
    "INITIAL_COUNT",
    "DuqNet",
    "DuqOutput",
    "DuqResult",
    "DuqSettings",
    "LoadedDuq",
    "accuracy_with_ci",
    "classify",
    "gradient_penalty",
    "load_duq",
    "save_duq",
    "train_duq",
]
