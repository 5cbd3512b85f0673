"""Pixel layouts of the 2D image and 3D volume representations of an INS data set.

Conventions (shared with ``../shared/data/README.md``):

* 2D image, shape ``(n_ei * n_pix, n_ebins * n_pix)``: one row block per incident energy
  ``ei_mev`` (ascending from the top), one column block per energy-transfer bin
  ``[e_lo + j * e_step, e_lo + (j + 1) * e_step] * Ei`` (ascending to the right).
  Inside a panel, rows index H and columns index K, both in r.l.u. of the
  a = 5.408, b = 5.4599 Angstrom cell, pixel centres from -hk_max to +hk_max.
* 3D volume, shape ``(n_h, n_k, n_e)``: one incident energy, axes (H, K, E), the energy axis
  covering ``[e_lo, e_lo + n_e * e_step3d] * Ei``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAPER_EI_MEV = (25.0, 35.0, 50.0, 70.0, 100.0, 140.0)
PAPER_CHOPPER_HZ = (300.0, 200.0, 200.0, 250.0, 300.0, 400.0)


@dataclass(frozen=True)
class Layout2D:
    """The paper's 2D representation (defaults give the 240 x 400 image)."""

    ei_mev: tuple[float, ...] = PAPER_EI_MEV  # incident energies, meV, one row block each
    chopper_hz: tuple[float, ...] = PAPER_CHOPPER_HZ  # MAPS Fermi chopper 'S' frequency per Ei
    n_pix: int = 40  # pixels along H and along K in one panel
    n_ebins: int = 10  # energy-transfer bins (column blocks)
    e_lo: float = 0.10  # lower edge of the first bin, fraction of Ei
    e_step: float = 0.06  # bin width, fraction of Ei
    hk_max: float = 1.0  # outermost pixel centre, r.l.u.

    def __post_init__(self) -> None:
        if len(self.ei_mev) != len(self.chopper_hz):
            raise ValueError(
                f"layout: {len(self.ei_mev)} incident energies but {len(self.chopper_hz)} chopper "
                "frequencies; give one frequency per Ei"
            )
        if self.n_pix < 2 or self.n_ebins < 1:
            raise ValueError(
                f"layout: n_pix={self.n_pix} must be >= 2 and n_ebins={self.n_ebins} >= 1"
            )

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns) of the image."""
        return (len(self.ei_mev) * self.n_pix, self.n_ebins * self.n_pix)

    def hk_centres(self) -> np.ndarray:
        """Pixel centres along H (and K), shape (n_pix,), r.l.u."""
        return np.linspace(-self.hk_max, self.hk_max, self.n_pix)

    @property
    def pixel_width(self) -> float:
        """Pixel width along H and K, r.l.u."""
        return 2.0 * self.hk_max / (self.n_pix - 1)

    def ebin_edges(self, ei_mev: float) -> np.ndarray:
        """Energy-transfer bin edges for one Ei, shape (n_ebins + 1,), meV."""
        return ei_mev * (self.e_lo + self.e_step * np.arange(self.n_ebins + 1))

    def panel(self, image: np.ndarray, i_ei: int, j_bin: int) -> np.ndarray:
        """View of one (n_pix, n_pix) panel of an image of this layout (rows H, columns K)."""
        n = self.n_pix
        return image[..., i_ei * n : (i_ei + 1) * n, j_bin * n : (j_bin + 1) * n]

    def assemble(self, panels: np.ndarray) -> np.ndarray:
        """Image from panels of shape (..., n_ei, n_ebins, n_pix(H), n_pix(K))."""
        lead = panels.shape[:-4]
        n_ei, n_e, n, _ = panels.shape[-4:]
        return np.swapaxes(panels, -3, -2).reshape(*lead, n_ei * n, n_e * n)

    def split(self, image: np.ndarray) -> np.ndarray:
        """Inverse of ``assemble``: panels of shape (..., n_ei, n_ebins, n_pix, n_pix)."""
        lead = image.shape[:-2]
        n = self.n_pix
        return np.swapaxes(image.reshape(*lead, len(self.ei_mev), n, self.n_ebins, n), -3, -2)


@dataclass(frozen=True)
class Layout3D:
    """(H, K, E) volume at one incident energy (the paper's 3D variant: 60 x 60 x 60)."""

    ei_mev: float = 140.0  # the authors' released files; their text says 70 meV
    chopper_hz: float = 400.0
    n_pix: int = 60  # pixels along H and along K
    n_e: int = 60  # energy bins
    e_lo: float = 0.10  # lower edge of the energy axis, fraction of Ei
    e_hi: float = 0.70  # upper edge, fraction of Ei
    hk_max: float = 1.0

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_pix, self.n_pix, self.n_e)

    def hk_centres(self) -> np.ndarray:
        return np.linspace(-self.hk_max, self.hk_max, self.n_pix)

    @property
    def pixel_width(self) -> float:
        return 2.0 * self.hk_max / (self.n_pix - 1)

    def ebin_edges(self) -> np.ndarray:
        """Energy bin edges, shape (n_e + 1,), meV."""
        return self.ei_mev * np.linspace(self.e_lo, self.e_hi, self.n_e + 1)
