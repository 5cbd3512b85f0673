"""Speed of the applicability distances: batched POT solve vs one POT call per repeat.

    python benchmarks/applicability.py [--repeats 1000] [--n-train 2000] [--dim 1024]
        [--naive-repeats 50]

Synthetic features of realistic size: a training set of 2000 points and 9 target sets of 16 to 400
points in 1024 dimensions, each a ReLU image of an 8-dimensional Gaussian latent plus noise (a
low-dimensional manifold, as encoder features are), the sets shifted or widened in the latent
space from in-domain to far out of domain. The batched time covers everything (cost matrices,
draws, solves). The naive loops solve the same draws with one ot.sinkhorn2 call per repeat on the
raw costs (POT's default method, and its log-domain one), indexing the same precomputed cost
matrix (its computation not timed), timed on the first ``--naive-repeats`` repeats of each set and
extrapolated linearly to ``--repeats``.

Goal (2 CPU cores): the batched computation >= 10x faster than the naive loop, <= 10 s in all.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import ot

from exp2simgan_core.applicability import (
    ApplicabilitySettings,
    distance_table,
    draw_indices,
    regularisation,
    set_rng,
)
from exp2simgan_core.sinkhorn import SOLVER_THREADS

LATENT_DIM = 8
NOISE = 0.3  # feature noise, in units of the ReLU features' scale
NAIVE_METHODS = ("sinkhorn", "sinkhorn_log")  # POT's default, and its log-domain variant
SETS = (  # name, points, latent shift, latent spread
    ("held_out", 400, 0.0, 1.0),
    ("held_out_small", 16, 0.0, 1.0),
    ("near", 300, 0.3, 1.0),
    ("narrow", 200, 0.0, 0.5),
    ("mid", 120, 1.0, 1.0),
    ("far", 80, 2.0, 1.0),
    ("wide", 50, 0.0, 3.0),
    ("very_far", 30, 5.0, 1.0),
    ("far_wide", 20, 4.0, 3.0),
)


def features(rng: np.random.Generator, weights: np.ndarray, n: int, shift: float, spread: float):
    z = rng.normal(size=(n, LATENT_DIM)) * spread + shift
    return np.maximum(z @ weights, 0.0) + NOISE * rng.normal(size=(n, weights.shape[1]))


def naive_set(train, target, settings, rng, n_naive: int, method: str):
    """Seconds and distances of the first ``n_naive`` repeats, one ot.sinkhorn2 call each."""
    train_idx, set_idx = draw_indices(len(train), len(target), settings, rng)
    reg = regularisation(train, settings)
    full_cost = ot.dist(train, target)  # as the batched code: computed once, not timed
    out = []
    start = time.perf_counter()
    for ti, si in zip(train_idx[:n_naive], set_idx[:n_naive], strict=True):
        cost = full_cost[np.ix_(ti, si)]
        a, b = ot.unif(len(ti)), ot.unif(len(si))
        out.append(
            ot.sinkhorn2(
                a, b, cost, reg, method=method, stopThr=settings.tol, numItermax=settings.max_iter
            )
        )
    return time.perf_counter() - start, np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1000)
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--naive-repeats", type=int, default=50)
    args = parser.parse_args()
    settings = ApplicabilitySettings(n_repeats=args.repeats)
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(LATENT_DIM, args.dim)) / np.sqrt(LATENT_DIM)
    train = features(rng, weights, args.n_train, 0.0, 1.0)
    sets = {name: features(rng, weights, n, shift, spread) for name, n, shift, spread in SETS}
    print(
        f"cores visible: {os.cpu_count()}, solver threads: {SOLVER_THREADS}, "
        f"POT {ot.__version__}; training {train.shape}, {len(sets)} sets of "
        f"{min(len(s) for s in sets.values())}..{max(len(s) for s in sets.values())} points, "
        f"{settings.n_repeats} repeats x {settings.n_points} points, reg {settings.reg} x mean "
        f"training pair cost, tol {settings.tol:g}"
    )

    start = time.perf_counter()
    table = distance_table(train, sets, settings)
    batched = time.perf_counter() - start

    n_naive = min(args.naive_repeats, settings.n_repeats)
    scale = settings.n_repeats / n_naive
    totals = dict.fromkeys(NAIVE_METHODS, 0.0)
    for name, target in sets.items():
        line = f"  {name:15s} {len(target):4d} points: distance {table[name].mean():9.2f} +- "
        line += f"{table[name].std():7.2f}; naive vs batched, max relative difference:"
        for method in NAIVE_METHODS:
            rng = set_rng(settings.seed, name)  # the batched computation's draws
            seconds, naive = naive_set(train, target, settings, rng, n_naive, method)
            totals[method] += seconds * scale
            line += f" {method} {np.max(np.abs(naive / table[name][:n_naive] - 1)):.1e}"
        print(line)
    print(
        f"naive loops timed on the first {n_naive} of {settings.n_repeats} repeats of each set, "
        f"extrapolated x{scale:g}"
    )
    print(f"batched (ot.batch.solve_batch, all {len(sets)} sets): {batched:.2f} s")
    for method, seconds in totals.items():
        print(
            f"naive ot.sinkhorn2(method={method!r}) per repeat: {seconds:.2f} s "
            f"(speed-up {seconds / batched:.1f}x)"
        )


if __name__ == "__main__":
    main()
