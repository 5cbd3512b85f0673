"""The workflow's stages: one module per ``rules/<stage>.smk``, holding the file-level functions
that its ``workflow_scripts/`` call (read the inputs, run the core, write the outputs).

simulate (shards, merge, split, reference sets, user spectra) -> patches -> gan (train, select,
back-translate) -> translate (translations and their quality) -> classify (DUQ, baselines,
accuracy and kernel tables) -> applicability (Sinkhorn and nearest distances) -> figures.
The 3D variant (``rules/volume.smk``) reuses the simulate, patches, gan and translate stages.
"""
