"""Where the simulator's arrays live: numpy on the CPU, or torch on a device (CUDA; the CPU too,
for tests and benchmarks).

The spin-wave and spectrum code is written once over the operations that numpy and torch share
under the same names (``xp.exp``, ``xp.where``, ``xp.stack(..., axis=)``, ...). The few that
differ, and the linear algebra of Colpa's method, are methods of :class:`NumpyArrays` and
:class:`TorchArrays`. Numbers keep numpy's dtypes: float64 and complex128 unless a caller casts.
Torch is imported only when a :class:`TorchArrays` is made or met.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import ndtr

from exp2simgan_core.util import resolve_device

BACKENDS = ("numpy", "torch")


class NumpyArrays:
    """numpy on the CPU: LAPACK for Colpa's method (no torch import, and faster than torch's CPU
    kernels for these 32 x 32 problems: ``benchmarks/eigensolver.py``)."""

    xp = np

    @staticmethod
    def asarray(a, dtype: str | None = None) -> np.ndarray:
        return np.asarray(a, dtype=dtype)

    @staticmethod
    def to_numpy(a) -> np.ndarray:
        return np.asarray(a)

    @staticmethod
    def astype(a: np.ndarray, dtype: str) -> np.ndarray:
        return a.astype(dtype)

    @staticmethod
    def zeros(shape: tuple[int, ...], dtype: str = "float64") -> np.ndarray:
        return np.zeros(shape, dtype)

    einsum = staticmethod(np.einsum)
    ndtr = staticmethod(ndtr)
    interp = staticmethod(np.interp)

    @staticmethod
    def bin_sum(index: np.ndarray, values: np.ndarray, n_bins: int) -> np.ndarray:
        """(nq, n_bins): the sum of ``values`` (nq, m) into bin ``index`` (nq, m) of their row;
        an index outside 0..n_bins - 1 drops its value."""
        out = np.zeros((index.shape[0], n_bins))
        inside = (index >= 0) & (index < n_bins)
        rows = np.broadcast_to(np.arange(index.shape[0])[:, None], index.shape)
        np.add.at(out, (rows[inside], index[inside]), values[inside])
        return out

    @staticmethod
    def cholesky(shifted: np.ndarray) -> tuple[np.ndarray | None, list[int]]:
        """Lower factors, or None and the indices where the factorisation fails."""
        try:
            return np.linalg.cholesky(shifted), []
        except np.linalg.LinAlgError:  # only unstable draws pay for the search
            return None, [i for i, m in enumerate(shifted) if not _factorises(m)]

    @staticmethod
    def eigh(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.linalg.eigh(m)

    @staticmethod
    def solve_upper(upper: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.linalg.solve(upper, b)


class TorchArrays:
    """torch tensors on ``device``: the simulator's path on a CUDA device. Every result is
    computed without atomic additions, so a rerun on the same device gives the same bits."""

    def __init__(self, device: str) -> None:
        import torch

        self.xp = torch
        self.device = device

    def asarray(self, a, dtype: str | None = None):
        return self.xp.as_tensor(a, dtype=self._dtype(dtype), device=self.device)

    @staticmethod
    def to_numpy(a) -> np.ndarray:
        return a.cpu().numpy()

    def astype(self, a, dtype: str):
        return a.to(self._dtype(dtype))

    def zeros(self, shape: tuple[int, ...], dtype: str = "float64"):
        return self.xp.zeros(shape, dtype=self._dtype(dtype), device=self.device)

    def einsum(self, subscripts: str, *operands):
        """torch.einsum after numpy's type promotion (torch wants one dtype)."""
        dtype = functools.reduce(self.xp.promote_types, (a.dtype for a in operands))
        return self.xp.einsum(subscripts, *(a.to(dtype) for a in operands))

    def ndtr(self, x):
        return self.xp.special.ndtr(x)

    def interp(self, x, xp, fp):
        """np.interp for increasing ``xp`` (clamped to fp's ends outside it)."""
        table_x, table_y = self.asarray(xp), self.asarray(fp)
        upper = self.xp.searchsorted(table_x, x.contiguous(), right=True)
        upper = upper.clamp(1, len(table_x) - 1)
        x0, x1 = table_x[upper - 1], table_x[upper]
        y0, y1 = table_y[upper - 1], table_y[upper]
        return y0 + ((x - x0) / (x1 - x0)).clamp(0.0, 1.0) * (y1 - y0)

    def bin_sum(self, index, values, n_bins: int):
        """As :meth:`NumpyArrays.bin_sum`, by a one-hot mask (no atomic scatter on CUDA)."""
        bins = self.xp.arange(n_bins, device=values.device)
        return self.xp.sum(values[..., None] * (index[..., None] == bins), axis=1)

    def cholesky(self, shifted):
        lower, info = self.xp.linalg.cholesky_ex(shifted)
        return lower, self.xp.nonzero(info).flatten().tolist()

    def eigh(self, m):
        return self.xp.linalg.eigh(m)

    def solve_upper(self, upper, b):
        return self.xp.linalg.solve_triangular(upper, b, upper=True)

    def _dtype(self, name: str | None):
        return None if name is None else getattr(self.xp, name)


Arrays = NumpyArrays | TorchArrays


def _factorises(m: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(m)
    except np.linalg.LinAlgError:
        return False
    return True


def arrays_for(device: str = "auto", backend: str | None = None) -> Arrays:
    """numpy on the CPU and torch on CUDA unless ``backend`` (one of BACKENDS) says otherwise."""
    resolved = resolve_device(device)
    backend = backend or ("numpy" if resolved == "cpu" else "torch")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "numpy" and resolved != "cpu":
        raise ValueError(f"the numpy backend runs on the CPU only, not on {resolved!r}")
    return NumpyArrays() if backend == "numpy" else TorchArrays(resolved)


def arrays_of(*values) -> Arrays:
    """The arrays object of ``values`` (numpy arrays, scalars, torch tensors): that of the first
    torch tensor among them, else numpy."""
    for value in values:
        if type(value).__module__.startswith("torch"):
            return TorchArrays(str(value.device))
    return NumpyArrays()
