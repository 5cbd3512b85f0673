"""Speed of DUQ training and classification, and of the classical deconvolution baselines.

    python benchmarks/duq.py [--device cpu|cuda] [--spectra 64] [--threads N]

Prints DUQ training spectra/s (one spectrum = one pass through a full step: forward, gradient
penalty, backward, centroid update) and classification spectra/s at the default settings on
240 x 400 spectra, and the CPU seconds per spectrum of Richardson-Lucy and Wiener deconvolution.
Random intensities stand in for spectra: speed does not depend on the values.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from exp2simgan_core.baselines import richardson_lucy_spectra, wiener_spectra
from exp2simgan_core.duq import DuqSettings, classify, train_duq
from exp2simgan_core.physics.layout import Layout2D

LAYOUT = Layout2D()  # 240 x 400


def random_spectra(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, *LAYOUT.shape), dtype=np.float32), np.arange(n) % 2


def time_duq(n: int, device: str) -> tuple[float, float]:
    """(training spectra/s over two epochs, classification spectra/s)."""
    spectra, labels = random_spectra(n)
    settings = dataclasses.replace(DuqSettings(), epochs=2)
    start = time.perf_counter()
    result = train_duq(settings, spectra, labels, progress=False, device=device)
    train_rate = 2 * n / (time.perf_counter() - start)
    start = time.perf_counter()
    classify(result.classifier, spectra, device=device)
    return train_rate, n / (time.perf_counter() - start)


def time_baseline(method, n: int = 4) -> float:
    spectra, _ = random_spectra(n, seed=1)
    start = time.perf_counter()
    method(spectra, LAYOUT)
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device for the DUQ runs")
    parser.add_argument("--spectra", type=int, default=64, help="spectra per DUQ timing")
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads (0: torch's default); 1 on a busy host"
    )
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}, device {args.device}")
    train_rate, classify_rate = time_duq(args.spectra, args.device)
    print(
        f"DUQ default settings, 240x400, {args.device}: training {train_rate:.2f} spectra/s "
        f"(including validation), classification {classify_rate:.1f} spectra/s"
    )
    for name, method in (("Richardson-Lucy", richardson_lucy_spectra), ("Wiener", wiener_spectra)):
        print(f"{name}, 240x400, cpu: {time_baseline(method):.3f} s per spectrum")


if __name__ == "__main__":
    main()
