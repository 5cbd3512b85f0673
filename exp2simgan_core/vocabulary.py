"""The project's names for its two domains, two translation directions and two classes.

Domains are named by what the spectra are: ``unconvolved`` (simulation-like, the paper's "sim")
and ``convolved`` (by the instrument's resolution: experiment-like, "exp"). A direction
translates one domain into the other: ``exp2sim`` (Exp2Sim, a deconvolution: convolved ->
unconvolved) and ``sim2exp`` (Sim2Exp, a convolution). Classes are the two training models in
label order (label 0 = dimer, 1 = goodenough). Every other module takes these tables from here.
Torch-free, so the workflow can build its DAG without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass

DOMAINS = ("unconvolved", "convolved")  # what a classifier is trained on, in table order
CLASSES = ("dimer", "goodenough")  # label order: index 0 = dimer, 1 = goodenough


@dataclass(frozen=True)
class Direction:
    """One translation direction of the GAN: its name, data sets and networks."""

    name: str  # 'exp2sim' or 'sim2exp': file names, table rows, command-line values
    source: str  # the domain it reads (a dataset of the project's HDF5 files)
    target: str  # the domain it writes
    generator: str  # its generator's key in a checkpoint's 'networks'
    title: str  # for figures

    @property
    def reverse(self) -> Direction:
        """The direction back (``exp2sim`` <-> ``sim2exp``)."""
        return DIRECTIONS[SIM2EXP if self.name == EXP2SIM else EXP2SIM]


EXP2SIM, SIM2EXP = "exp2sim", "sim2exp"
DIRECTIONS: dict[str, Direction] = {
    EXP2SIM: Direction(EXP2SIM, "convolved", "unconvolved", "g_exp2sim", "Exp2Sim (deconvolution)"),
    SIM2EXP: Direction(SIM2EXP, "unconvolved", "convolved", "g_sim2exp", "Sim2Exp (convolution)"),
}


def direction(name: str) -> Direction:
    """The ``Direction`` called ``name``; ValueError naming the choices for another name."""
    if name not in DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {name!r}")
    return DIRECTIONS[name]
