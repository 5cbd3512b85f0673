"""GAN stage (``rules/gan.smk``, reused 3D by ``rules/volume.smk``): train on the patches,
select a checkpoint per direction, back-translate the selected Exp2Sim generator.

The training run lives in its own folder (``run_dir``: ``checkpoints/`` and ``losses.csv``) that the
workflow does not declare as an output, so a failed or killed job leaves it in place and the rerun
resumes from the latest checkpoint; the declared outputs are copies made once training completes.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from exp2simgan_core import streams
from exp2simgan_core.dataset import INTENSITY_RULE
from exp2simgan_core.gan.back_translation import (
    BackTranslationSettings,
    pseudo_pairs,
    train_back_translation,
)
from exp2simgan_core.gan.checkpoint import load_checkpoint, load_generator, save_atomically
from exp2simgan_core.gan.networks import GENERATORS
from exp2simgan_core.gan.select import load_inception, select_checkpoint
from exp2simgan_core.gan.settings import GanSettings
from exp2simgan_core.gan.train import LOSS_LOG, train
from exp2simgan_core.io import DataFileError, check_writable, read_h5, write_csv
from exp2simgan_core.util import atomic_path, resolve_device
from exp2simgan_core.vocabulary import DIRECTIONS, DOMAINS, EXP2SIM, SIM2EXP

log = logging.getLogger(__name__)

SELECTION_DIRECTION = EXP2SIM  # its best checkpoint is the base of selected.pt
TRAINING_STATE = ("optimisers", "schedulers", "rng")  # not kept in a selected checkpoint
SELECTION_COLUMNS = (
    "checkpoint", "iteration", "direction", "features", "frechet_distance", "selected",
)  # fmt: skip


def train_from_patches(
    patches_path: str | Path,
    settings: GanSettings,
    run_dir: str | Path,
    final_checkpoint: str | Path,
    losses_csv: str | Path,
    device: str = "auto",
    progress: bool = True,
) -> None:
    """Train (or resume) on the patch file; copy the final checkpoint and loss log when done.

    A run in ``run_dir`` from other settings or another configuration is set aside as
    ``<run_dir>.superseded-<k>`` (``state.set_aside_other_run``), so a changed setting retrains.
    """
    for out in (final_checkpoint, losses_csv):
        check_writable(out)
    data = read_h5(patches_path, required=DOMAINS)
    if data.attrs.get("intensity") != INTENSITY_RULE:
        raise DataFileError(
            f"{patches_path}: its patches are not normalised ({INTENSITY_RULE!r}); it was "
            "written by an older version: delete it and rerun the step that writes it"
        )
    result = train(
        settings,
        data.datasets["convolved"],
        data.datasets["unconvolved"],
        Path(run_dir),
        progress,
        device=resolve_device(device),
        set_aside_other_runs=True,
    )
    if not result.completed or result.last_checkpoint is None:
        raise RuntimeError(f"training in {run_dir} stopped at iteration {result.iteration}")
    _copy_atomically(result.last_checkpoint, Path(final_checkpoint))
    _copy_atomically(Path(run_dir) / LOSS_LOG, Path(losses_csv))


def _copy_atomically(source: Path, target: Path) -> None:
    with atomic_path(target) as tmp:
        shutil.copy2(source, tmp)


def _subset(spectra: np.ndarray, n: int, seed: int, domain: str) -> np.ndarray:
    """At most ``n`` spectra of ``domain``, drawn without replacement (stream "select/<domain>")."""
    if len(spectra) <= n:
        return spectra
    rng = streams.rng(seed, f"select/{domain}")
    idx = np.sort(rng.choice(len(spectra), size=n, replace=False))
    return spectra[idx]


def select_from_run(
    run_dir: str | Path,
    data_path: str | Path,
    selected_checkpoint: str | Path,
    table_csv: str | Path,
    *,
    max_spectra: int,
    seed: int,
    device: str = "auto",
    inception_weights: str | Path | None = None,
) -> Path:
    """Score every checkpoint of ``run_dir`` in both directions; write the selected generators.

    ``data_path`` holds paired 'convolved' and 'unconvolved' spectra (the training file: the test
    file stays unseen until evaluation). For each direction, up to ``max_spectra`` (seeded draw)
    input-domain spectra are translated and compared with as many real target-domain spectra by
    ``select.select_checkpoint`` (Fréchet distance; InceptionV3 features when
    ``inception_weights`` names pytorch-fid's weights file, else encoder features). Each
    generator is selected by its own direction's distance: ``selected_checkpoint`` is the
    checkpoint with the lowest Exp2Sim distance (``SELECTION_DIRECTION``), its Sim2Exp generator
    replaced by that of the checkpoint with the lowest Sim2Exp distance, and
    'selected_iterations' records both (it is for translation, not for resuming: optimiser
    states are dropped). ``table_csv`` gets one row per checkpoint and direction
    (``SELECTION_COLUMNS``). Returns the Exp2Sim source path.
    """
    for out in (selected_checkpoint, table_csv):
        check_writable(out)
    data = read_h5(data_path, required=DOMAINS).datasets
    dev = resolve_device(device)
    inception = None if inception_weights is None else load_inception(inception_weights, dev)
    rows, best = [], {}
    for direction, named in DIRECTIONS.items():
        source, target = named.source, named.target
        path, scored = select_checkpoint(
            Path(run_dir),
            direction,
            _subset(data[source], max_spectra, seed, source),
            _subset(data[target], max_spectra, seed, target),
            device=dev,
            inception=inception,
        )
        best[direction] = path
        rows += [
            {**r, "direction": direction, "selected": r["checkpoint"] == path.name} for r in scored
        ]
    write_csv(table_csv, SELECTION_COLUMNS, rows)
    _write_selected(best, Path(selected_checkpoint))
    return best[SELECTION_DIRECTION]


def _write_selected(best: Mapping[str, Path], out: Path) -> None:
    """The Exp2Sim-best checkpoint with the Sim2Exp-best generator, saved atomically."""
    states = {direction: load_checkpoint(path) for direction, path in best.items()}
    state = {k: v for k, v in states[SELECTION_DIRECTION].items() if k not in TRAINING_STATE}
    state["networks"] = dict(state["networks"])
    for direction, named in DIRECTIONS.items():
        state["networks"][named.generator] = states[direction]["networks"][named.generator]
    state["selected_iterations"] = {d: int(s["iteration"]) for d, s in states.items()}
    save_atomically(state, out)


def back_translate_checkpoint(
    selected: str | Path,
    train_path: str | Path,
    out_checkpoint: str | Path,
    losses_csv: str | Path,
    settings: BackTranslationSettings,
    device: str = "cpu",
    progress: bool = True,
) -> None:
    """Write ``out_checkpoint``: ``selected`` with its Exp2Sim generator back-translated.

    ``train_path`` holds the training spectra ('unconvolved' is read; the true convolved ones
    are not). With ``settings.iterations == 0`` the networks are copied unchanged and
    ``train_path`` is not read (the workflow then runs the copy where Snakemake runs). The
    checkpoint gains a 'back_translation' record (the settings); ``losses_csv`` gets (iteration,
    mse) rows.
    """
    for out in (out_checkpoint, losses_csv):
        check_writable(out)
    state = load_checkpoint(Path(selected))
    device = resolve_device(device)
    rows: list[tuple[int, float]] = []
    if settings.iterations > 0:
        unconvolved = read_h5(train_path, required=("unconvolved",)).datasets["unconvolved"]
        sim2exp = load_generator(Path(selected), SIM2EXP)
        inputs, targets = pseudo_pairs(sim2exp, unconvolved, device)
        torch.manual_seed(streams.torch_seed(settings.seed, "back_translation/weights"))
        generator = GENERATORS[state["architecture"]["generator_name"]](
            sim2exp.generator.settings
        ).to(device)
        rows = train_back_translation(inputs, targets, generator, settings, progress)
        log.info(
            "back-translation: %d pseudo-pairs of %s, %d iterations, MSE %.4g -> %.4g",
            len(inputs), tuple(inputs.shape[2:]), settings.iterations, rows[0][1], rows[-1][1],
        )  # fmt: skip
        state["networks"] = dict(state["networks"])
        state["networks"][DIRECTIONS[EXP2SIM].generator] = {
            k: v.cpu() for k, v in generator.state_dict().items()
        }
    state["back_translation"] = {**dataclasses.asdict(settings), "betas": list(settings.betas)}
    save_atomically(state, Path(out_checkpoint))
    write_csv(losses_csv, ("iteration", "mse"), [{"iteration": i, "mse": m} for i, m in rows])
