"""Magnetic form factors <j0>(|Q|) in the dipole approximation.

<j0>(s) = a1 exp(-b1 s^2) + a2 exp(-b2 s^2) + a3 exp(-b3 s^2) + c, with s = |Q| / (4 pi) and |Q| in
1/Angstrom. Coefficients from the Neutron Data Booklet (Dianoux and Lander, 2003), as tabulated in
SpinW's ``magion.dat`` (labels MMN2, MMN3, MMN4).
"""

from __future__ import annotations

import numpy as np

from .arrays import arrays_of

# ion: (a1, b1, a2, b2, a3, b3, c)
J0_COEFFICIENTS: dict[str, tuple[float, ...]] = {
    "Mn2+": (0.4220, 17.6840, 0.5948, 6.0050, 0.0043, -0.6090, -0.0219),
    "Mn3+": (0.4198, 14.2829, 0.6054, 5.4689, 0.9241, -0.0088, -0.9498),
    "Mn4+": (0.3760, 12.5661, 0.6602, 5.1329, -0.0372, 0.5630, 0.0011),
}


def j0(ion: str, q_inv_angstrom: np.ndarray) -> np.ndarray:
    """<j0> form factor of ``ion`` at momentum transfer |Q| (1/Angstrom), same shape as the input
    (a numpy array, or a torch tensor on its device).

    The tabulated fits give 1 at Q = 0 to within 1e-3.
    """
    try:
        a1, b1, a2, b2, a3, b3, c = J0_COEFFICIENTS[ion]
    except KeyError:
        raise ValueError(
            f"no <j0> form factor for ion {ion!r}; known: {sorted(J0_COEFFICIENTS)}"
        ) from None
    arrays = arrays_of(q_inv_angstrom)
    xp = arrays.xp
    s2 = (arrays.asarray(q_inv_angstrom) / (4.0 * np.pi)) ** 2
    return a1 * xp.exp(-b1 * s2) + a2 * xp.exp(-b2 * s2) + a3 * xp.exp(-b3 * s2) + c
