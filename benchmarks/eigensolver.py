"""Which batched Hermitian solver for the 32 x 32 Bogoliubov problems: torch or numpy, 128 or 64?

    python benchmarks/eigensolver.py [--n 4096] [--repeats 3] [--threads 1]

The simulator's ``lswt.colpa`` does a batched Cholesky, a Hermitian eigendecomposition and a
triangular solve per wavevector (complex128; numpy's LAPACK on the CPU, torch on CUDA). This
prints wavevectors per second of the whole colpa on the CPU, with each backend (numpy, the
default there, and torch, the CUDA path's code), and of the eigendecomposition step alone, for
torch (complex128, complex64) and numpy's LAPACK (complex128, complex64), on the Goodenough best
fit's h(k) at ``--n`` random wavevectors, and the largest mode-energy error of each against colpa
(meV): complex64 is usable only where that error is far below the tests' tolerances.
``--threads`` limits torch and numpy's OpenBLAS alike (threadpoolctl): OpenBLAS otherwise takes
every core, and on a loaded machine its threads contend (numpy eigh fell to 0.36x torch's).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from simulate import best_of  # benchmarks/simulate.py: run from benchmarks/ or as a script
from threadpoolctl import threadpool_limits

from exp2simgan_core.physics.arrays import BACKENDS
from exp2simgan_core.physics.lswt import (
    GOLDSTONE_SHIFT_MEV,
    colpa,
    hamiltonian,
    quadratic_form,
)
from exp2simgan_core.physics.models import MODELS


def dynamical_matrices(h: np.ndarray, dtype) -> np.ndarray:
    """K g K^dagger of each h = K^dagger K (Colpa's Hermitian matrix), with numpy."""
    n = h.shape[-1] // 2
    lower = np.linalg.cholesky(h + GOLDSTONE_SHIFT_MEV * np.eye(2 * n)).astype(dtype)
    g = np.concatenate([np.ones(n), -np.ones(n)]).astype(dtype)
    k = lower.conj().swapaxes(-1, -2)
    m = k @ (g[:, None] * lower)
    return 0.5 * (m + m.conj().swapaxes(-1, -2))


def numpy_colpa(h: np.ndarray, dtype) -> np.ndarray:
    """Mode energies (nq, n), descending, of Colpa's method in numpy (no T: energies only)."""
    n = h.shape[-1] // 2
    lam = np.linalg.eigvalsh(dynamical_matrices(h, dtype))
    return lam[:, ::-1][:, :n].astype(np.float64)


def torch_colpa_energies(h: np.ndarray, dtype) -> np.ndarray:
    n = h.shape[-1] // 2
    m = torch.from_numpy(dynamical_matrices(h, np.complex128)).to(dtype)
    lam = torch.linalg.eigvalsh(m)
    return lam.flip(-1)[:, :n].double().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        compare(args.n, args.repeats, args.threads)


def compare(n_k: int, repeats: int, threads: int) -> None:
    spec = MODELS["goodenough"]
    form = quadratic_form(spec.build(np.array(spec.best_fit)))
    rng = np.random.default_rng(0)
    k = rng.uniform(-1.2, 1.2, size=(n_k, 3)) * [1.16, 1.15, 0.0]
    h = hamiltonian(form, k)
    print(f"{n_k} wavevectors, h(k) {h.shape[1]} x {h.shape[2]}, {threads} thread(s) (torch, BLAS)")
    reference = colpa(h, "cpu")[0]
    full = {b: best_of(repeats, lambda b=b: colpa(h, "cpu", b)) for b in BACKENDS}
    for backend, t in full.items():
        print(
            f"lswt.colpa on the CPU (Cholesky + eigh + T), {backend:5}: {n_k / t:9,.0f} /s  "
            f"{full['torch'] / t:5.2f}x torch"
        )
    matrices = dynamical_matrices(h, np.complex128)
    rows = []
    for name, dtype in (("complex128", torch.complex128), ("complex64", torch.complex64)):
        m = torch.from_numpy(matrices).to(dtype)
        t = best_of(repeats, lambda m=m: torch.linalg.eigh(m))
        err = np.abs(torch_colpa_energies(h, dtype) - reference).max()
        rows.append((f"torch.linalg.eigh {name}", t, err))
    for name, dtype in (("complex128", np.complex128), ("complex64", np.complex64)):
        m = matrices.astype(dtype)
        t = best_of(repeats, lambda m=m: np.linalg.eigh(m))
        err = np.abs(numpy_colpa(h, dtype) - reference).max()
        rows.append((f"numpy.linalg.eigh {name}", t, err))
    base = rows[0][1]
    for name, t, err in rows:
        print(f"{name:30} {n_k / t:9,.0f} /s  {base / t:5.2f}x torch complex128  "
              f"max |omega error| {err:.1e} meV")  # fmt: skip


if __name__ == "__main__":
    main()
