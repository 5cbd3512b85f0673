"""Figures of the paper and the report: pure functions from arrays and tables to matplotlib Figures.

Every function builds a ``matplotlib.figure.Figure`` directly (no pyplot, no global state);
``save_figure`` writes it as PDF and PNG. Conventions of every spectrum panel:

* 2D images follow ``Layout2D`` (rows: Ei blocks ascending downwards, columns: energy-transfer
  bins ascending to the right; inside a panel H down the rows, K across the columns, r.l.u.);
  3D volumes follow ``Layout3D`` (axes H, K, E; E in meV).
* Masked (uncovered) pixels are NaN and drawn transparent; the colour map is viridis; the colour
  limits are 0 and, unless given, the 99.5th percentile of the finite values; every colour bar
  reads "intensity (arb. units)". Panels in the same data domain that are compared with each
  other share one colour scale.
* ``caption`` (run provenance: preset, seed, checkpoint) is drawn as a small footer.
"""

from exp2simgan_core.plotting.applicability import esi_applicability, fig5, ridgeline
from exp2simgan_core.plotting.base import draw_spectrum_2d, draw_spectrum_3d, save_figure
from exp2simgan_core.plotting.spectra import data_overview, energy_cuts, esi_b, fig2, fig4, fig6
from exp2simgan_core.plotting.training import training_figure

__all__ = [
    "data_overview",
    "draw_spectrum_2d",
    "draw_spectrum_3d",
    "energy_cuts",
    "esi_applicability",
    "esi_b",
    "fig2",
    "fig4",
    "fig5",
    "fig6",
    "ridgeline",
    "save_figure",
    "training_figure",
]
