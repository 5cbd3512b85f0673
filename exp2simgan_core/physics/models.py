"""Spin Hamiltonians of the project: PCSMO (Goodenough, Dimer), Rb2MnF4 and negative controls.

All exchanges in meV, J > 0 antiferromagnetic, each bond counted once (SpinW's convention);
single-ion anisotropy D (S^c)^2. Positions are Cartesian (Angstrom) with x || a, y || b, z || c.

PCSMO (Pr(Ca,Sr)2Mn2O7, one bilayer, as in the authors' SpinW models): 16 Mn in a 2a x 2b x c cell,
layers at z = +-0.1 c, CE-type order with moments along +-b, S = 7/4. In the top layer (fractions of
the 2a x 2b cell) Mn4+ (corner sites) sit at (0,0),(1/2,1/2) [up] and (0,1/2),(1/2,0) [down], Mn3+
(bridge sites) at (1/4,3/4),(3/4,3/4) [up] and (1/4,1/4),(3/4,1/4) [down]; the bottom layer is
(x, y + 1/2, -z) with the same labels. Bonds:

* nearest neighbours (3.842 A): parallel spins = zig-zag chain bonds (JF1; Dimer: JFS when the
  Mn3 is at +a from its Mn4, JFW otherwise), antiparallel = inter-chain (JA; Dimer: JA1 when
  the Mn4 is on the side of the Mn3's strong partner, -a, JA2 otherwise);
* Jperp: the interlayer pair at (x, y, +-0.1 c) (0.2 c = 3.853 A), bilayers otherwise isolated;
* JF3: Mn3-Mn3 of one chain across a corner Mn4 (5.408 A, along a);
* JF2: Mn4-Mn4 of one chain through a bridge Mn3 (7.685 A).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .lswt import SpinSystem

A_PCSMO, B_PCSMO, C_PCSMO = 5.408, 5.4599, 19.266  # Angstrom
S_PCSMO = 7.0 / 4.0
_TOL = 1e-3  # Angstrom, bond-length matching


@dataclass(frozen=True)
class ModelSpec:
    """A named model: parameter names, training ranges (meV), best fit and how to build it."""

    name: str
    param_names: tuple[str, ...]
    ranges: tuple[tuple[float, float], ...]
    best_fit: tuple[float, ...]
    build: Callable[[np.ndarray], SpinSystem]
    lattice_ab: tuple[float, float]  # in-plane cell defining the r.l.u. of the image axes, Angstrom
    twinned: bool  # two 90-degree domains with equal weight

    def check_params(self, params) -> np.ndarray:
        p = np.asarray(params, dtype=float).ravel()
        if p.shape != (len(self.param_names),):
            raise ValueError(
                f"model {self.name!r} takes {len(self.param_names)} parameters "
                f"{self.param_names}, got {p.size}"
            )
        if not np.all(np.isfinite(p)):
            raise ValueError(f"model {self.name!r}: parameters must be finite, got {p.tolist()}")
        return p

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One draw, uniform in the training ranges."""
        lo, hi = np.array(self.ranges).T
        return rng.uniform(lo, hi)


def _pcsmo_sites() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    top = [  # (x, y) in 2a x 2b fractions, spin sign, ion
        ((0.0, 0.0), 1, "Mn4+"), ((0.5, 0.5), 1, "Mn4+"),
        ((0.0, 0.5), -1, "Mn4+"), ((0.5, 0.0), -1, "Mn4+"),
        ((0.25, 0.75), 1, "Mn3+"), ((0.75, 0.75), 1, "Mn3+"),
        ((0.25, 0.25), -1, "Mn3+"), ((0.75, 0.25), -1, "Mn3+"),
    ]  # fmt: skip
    frac, sign, ions = [], [], []
    for z, dy in ((0.1, 0.0), (-0.1, 0.5)):
        for (x, y), s, ion in top:
            frac.append((x, (y + dy) % 1.0, z))
            sign.append(s)
            ions.append(ion)
    cell = np.array([2 * A_PCSMO, 2 * B_PCSMO, C_PCSMO])
    return np.array(frac) * cell, np.array(sign), tuple(ions)


def _neighbour_pairs(positions: np.ndarray, cell_ab: tuple[float, float], max_dist: float):
    """All bonds (i, j, vector) up to ``max_dist`` with in-plane periodicity, each listed once."""
    out = []
    n = len(positions)
    for i in range(n):
        for j in range(i, n):
            for rx in (-1, 0, 1):
                for ry in (-1, 0, 1):
                    if i == j and (rx, ry) <= (0, 0):
                        continue
                    d = positions[j] - positions[i] + (rx * cell_ab[0], ry * cell_ab[1], 0.0)
                    if np.linalg.norm(d) < max_dist:
                        out.append((i, j, d))
    return out


def _pcsmo_bonds(kind: str) -> list[tuple[int, int, np.ndarray, str]]:
    """Bonds labelled by exchange name for kind 'goodenough' or 'dimer'."""
    pos, sign, ions = _pcsmo_sites()
    cell_ab = (2 * A_PCSMO, 2 * B_PCSMO)
    nn, perp = np.hypot(A_PCSMO, B_PCSMO) / 2, 0.2 * C_PCSMO
    labelled = []
    for i, j, d in _neighbour_pairs(pos, cell_ab, 7.7):
        dist, same = np.linalg.norm(d), sign[i] == sign[j]
        pair = {ions[i], ions[j]}
        if abs(dist - perp) < _TOL and abs(d[2]) > 1.0:
            labelled.append((i, j, d, "Jperp"))
        elif abs(dist - nn) < _TOL and abs(d[2]) < _TOL:
            labelled.append((i, j, d, _nn_label(kind, i, d, same, ions)))
        elif kind == "goodenough" and same and abs(d[2]) < _TOL:
            if pair == {"Mn3+"} and abs(dist - A_PCSMO) < _TOL and abs(d[1]) < _TOL:
                labelled.append((i, j, d, "JF3"))
            elif pair == {"Mn4+"} and abs(dist - 2 * nn) < _TOL and _bridged(pos, sign, ions, i, d):
                labelled.append((i, j, d, "JF2"))
    return labelled


def _nn_label(kind: str, i: int, d: np.ndarray, same_spin: bool, ions) -> str:
    if kind == "goodenough":
        return "JF1" if same_spin else "JA"
    dx_mn3_minus_mn4 = d[0] if ions[i] == "Mn4+" else -d[0]
    if same_spin:
        return "JFS" if dx_mn3_minus_mn4 > 0 else "JFW"
    # inter-chain: JA1 when the Mn4 lies at -a from the Mn3 (the side of the Mn3's strong partner)
    return "JA1" if dx_mn3_minus_mn4 > 0 else "JA2"


def _bridged(pos, sign, ions, i, d) -> bool:
    """Whether the midpoint of bond (i, i + d) is a Mn3 site with the same spin (same chain)."""
    cell = np.array([2 * A_PCSMO, 2 * B_PCSMO])
    mid = (pos[i, :2] + d[:2] / 2) % cell
    for k in range(len(pos)):
        delta = (pos[k, :2] - mid + cell / 2) % cell - cell / 2
        if np.allclose(delta, 0, atol=_TOL) and abs(pos[k, 2] - pos[i, 2]) < _TOL:
            return ions[k] == "Mn3+" and sign[k] == sign[i]
    return False


def _assemble(pos, spins, moments, ions, bonds, values: dict[str, float], d_axis: float):
    """SpinSystem from labelled bonds and a dict of exchange values (Heisenberg)."""
    bonds = [b for b in bonds if values.get(b[3], 0.0) != 0.0] or bonds[:1]
    anis = np.zeros((len(pos), 3, 3))
    anis[:, 2, 2] = d_axis
    return SpinSystem(
        positions=np.asarray(pos, float),
        spins=np.asarray(spins, float),
        moments=np.asarray(moments, float),
        ions=tuple(ions),
        bond_i=np.array([b[0] for b in bonds]),
        bond_j=np.array([b[1] for b in bonds]),
        bond_vectors=np.array([b[2] for b in bonds], float),
        bond_matrices=np.array([values.get(b[3], 0.0) * np.eye(3) for b in bonds]),
        anisotropy=anis,
    )


def _pcsmo_builder(kind: str, names: tuple[str, ...]) -> Callable[[np.ndarray], SpinSystem]:
    pos, sign, ions = _pcsmo_sites()
    bonds = _pcsmo_bonds(kind)
    moments = np.outer(sign, [0.0, 1.0, 0.0])
    spins = np.full(len(pos), S_PCSMO)

    def build(params: np.ndarray) -> SpinSystem:
        values = dict(zip(names, np.asarray(params, float), strict=True))
        return _assemble(pos, spins, moments, ions, bonds, values, values["D"])

    return build


def _square_afm_builder(a: float, spin: float, ion: str) -> Callable[[np.ndarray], SpinSystem]:
    """Checkerboard antiferromagnet on a square lattice (2a x 2a cell, 4 sites), moments || c."""
    frac = [(0, 0, 1), (0.5, 0, -1), (0, 0.5, -1), (0.5, 0.5, 1)]
    pos = np.array([(x * 2 * a, y * 2 * a, 0.0) for x, y, _ in frac])
    sign = np.array([s for *_, s in frac])
    bonds = [(i, j, d, "J") for i, j, d in _neighbour_pairs(pos, (2 * a, 2 * a), a + _TOL)]

    def build(params: np.ndarray) -> SpinSystem:
        j, d_axis = params
        return _assemble(
            pos, np.full(4, spin), np.outer(sign, [0, 0, 1.0]), (ion,) * 4, bonds, {"J": j}, d_axis
        )

    return build


def _chain_builder(a: float, spin: float, ion: str) -> Callable[[np.ndarray], SpinSystem]:
    """Ferromagnetic chain along a (moments || c), chains uncoupled."""
    pos = np.array([[0.0, 0.0, 0.0], [a, 0.0, 0.0]])
    bonds = [(0, 1, np.array([a, 0.0, 0.0]), "J"), (1, 0, np.array([a, 0.0, 0.0]), "J")]

    def build(params: np.ndarray) -> SpinSystem:
        j, d_axis = params
        moments = np.array([[0, 0, 1.0], [0, 0, 1.0]])
        return _assemble(pos, np.full(2, spin), moments, (ion,) * 2, bonds, {"J": j}, d_axis)

    return build


GOODENOUGH_NAMES = ("JF1", "JA", "JF2", "JF3", "Jperp", "D")
DIMER_NAMES = ("JFW", "JA1", "JA2", "JFS", "Jperp", "D")
ANISO_NAMES = ("J", "D")

MODELS: dict[str, ModelSpec] = {
    "goodenough": ModelSpec(
        "goodenough", GOODENOUGH_NAMES,
        ((-20, 0), (0, 3), (-3, 3), (-3, 3), (0, 3), (0, 0.2)),
        (-11.39, 1.50, -1.35, 1.50, 0.88, 0.074),
        _pcsmo_builder("goodenough", GOODENOUGH_NAMES), (A_PCSMO, B_PCSMO), True,
    ),
    "dimer": ModelSpec(
        "dimer", DIMER_NAMES,
        ((-20, 0), (-3, 3), (-3, 3), (-20, 0), (0, 3), (0, 0.2)),
        (-8.43, 1.52, 1.52, -14.2, 0.92, 0.073),
        _pcsmo_builder("dimer", DIMER_NAMES), (A_PCSMO, B_PCSMO), True,
    ),
    # Rb2MnF4: S = 5/2 square-lattice antiferromagnet, easy axis c (D < 0 in D (S^c)^2)
    "rb2mnf4": ModelSpec(
        "rb2mnf4", ANISO_NAMES, ((0.5, 0.8), (-0.006, -0.004)), (0.648, -0.0048),
        _square_afm_builder(4.215, 2.5, "Mn2+"), (4.215, 4.215), False,
    ),
    # negative controls: Hamiltonians the classifier never saw
    "square_afm": ModelSpec(
        "square_afm", ANISO_NAMES, ((6.0, 14.0), (-0.3, -0.05)), (10.0, -0.2),
        _square_afm_builder(3.9, 1.0, "Mn2+"), (3.9, 3.9), False,
    ),
    "fm_chain": ModelSpec(
        "fm_chain", ANISO_NAMES, ((-10.0, -3.0), (-0.5, -0.1)), (-6.0, -0.3),
        _chain_builder(3.9, 2.0, "Mn3+"), (3.9, 3.9), False,
    ),
}  # fmt: skip
NEGATIVE_CONTROL_MODELS = ("fm_chain", "square_afm")


def get_model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}") from None
