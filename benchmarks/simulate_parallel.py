"""Convolved 240 x 400 pairs per second from several processes sharing one device.

    python benchmarks/simulate_parallel.py [--device auto|cpu|cuda] [--processes 1 2 4]
                                           [--pairs 4]

Each process builds the paper layout's calculator (Goodenough best fit, oversample 3), computes
one pair to warm up, waits for the others, then computes ``--pairs`` pairs; the rate is all
their pairs over the wall time from the common start to the last one's end. On a GPU, processes
overlap one another's kernel launches and host work (the goal is 10 pairs per second on one
H100 or H200); on the CPU, the rate shows how the simulation scales with cores (one thread per
process).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time

PAIRS_GOAL_PER_S = 10.0


def worker(device: str, pairs: int, ready) -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    from threadpoolctl import threadpool_limits

    from exp2simgan_core.physics.models import MODELS
    from exp2simgan_core.physics.spectra import SpectrumCalculator, SpectrumSettings

    spec = MODELS["goodenough"]
    with threadpool_limits(1):
        calc = SpectrumCalculator(spec, SpectrumSettings(device=device))
        calc.pair(spec.best_fit)
        ready.wait()
        for _ in range(pairs):
            calc.pair(spec.best_fit)


def rate(device: str, processes: int, pairs: int) -> float:
    """Pairs per second of ``processes`` workers computing ``pairs`` pairs each."""
    ctx = mp.get_context("spawn")  # CUDA cannot be used in a forked child
    ready = ctx.Barrier(processes + 1)
    workers = [ctx.Process(target=worker, args=(device, pairs, ready)) for _ in range(processes)]
    for w in workers:
        w.start()
    ready.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    wall = time.perf_counter() - start
    failed = [w.exitcode for w in workers if w.exitcode != 0]
    if failed:
        raise SystemExit(f"{len(failed)} worker(s) failed (exit codes {failed})")
    return processes * pairs / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pairs", type=int, default=4, help="timed pairs per process")
    args = parser.parse_args()
    from exp2simgan_core.util import resolve_device

    device = resolve_device(args.device)
    print(f"cores visible: {os.cpu_count()}, device: {device}, 240 x 400 pairs, oversample 3")
    base = None
    for n in args.processes:
        r = rate(device, n, args.pairs)
        base = base or r
        print(
            f"{n:3d} process(es): {r:6.2f} pairs/s  {r / base:5.2f}x the first row  "
            f"{r / PAIRS_GOAL_PER_S:5.2f}x the goal of {PAIRS_GOAL_PER_S:g}/s",
            flush=True,
        )


if __name__ == "__main__":
    main()
