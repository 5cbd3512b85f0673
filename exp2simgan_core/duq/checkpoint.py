"""The DUQ checkpoint file.

A checkpoint is a dict with ``kind`` = "duq", ``state_dict``, ``settings`` (DuqSettings as a
dict), ``input_shape`` (rows, cols), ``n_classes``, ``class_names``, ``peak``, ``intensity``
(``dataset.INTENSITY_RULE``), ``history``, ``selected_epoch`` and ``code_version``; it loads with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

from exp2simgan_core.dataset import INTENSITY_RULE
from exp2simgan_core.duq.network import DuqNet, DuqSettings
from exp2simgan_core.duq.training import DuqResult, LoadedDuq
from exp2simgan_core.gan.checkpoint import mismatches, refuse_stale, save_atomically
from exp2simgan_core.io import read_torch_file
from exp2simgan_core.version import code_version

CHECKPOINT_KIND = "duq"


def save_duq(path: str | Path, trained: DuqResult | LoadedDuq) -> None:
    """Write a classifier (with its history when given a DuqResult) atomically to ``path``."""
    classifier = trained.classifier if isinstance(trained, DuqResult) else trained
    state = {
        "kind": CHECKPOINT_KIND,
        "state_dict": {k: v.cpu() for k, v in classifier.model.state_dict().items()},
        "settings": asdict(classifier.settings),
        "input_shape": list(classifier.input_shape),
        "n_classes": classifier.model.n_classes,
        "class_names": list(classifier.class_names),
        "peak": classifier.peak,
        "intensity": INTENSITY_RULE,
        "history": list(trained.history) if isinstance(trained, DuqResult) else [],
        "selected_epoch": trained.selected_epoch if isinstance(trained, DuqResult) else None,
        "code_version": code_version(),
    }
    save_atomically(state, Path(path))


def load_duq(
    path: str | Path,
    expected_shape: tuple[int, int] | None = None,
    expected_settings: DuqSettings | None = None,
) -> LoadedDuq:
    """Read a DUQ checkpoint (eval mode, CPU).

    Raises ValueError when the file is not a DUQ checkpoint, is stale (``refuse_stale``), when its
    spectra size differs from ``expected_shape`` (rows, cols), or its architecture from
    ``expected_settings`` (each differing field named).
    """
    state = read_torch_file(path, "DUQ checkpoint")
    if state.get("kind") != CHECKPOINT_KIND:
        raise ValueError(
            f"{path} is not a DUQ checkpoint (kind != 'duq'; it holds {sorted(state)})"
        )
    missing = {"settings", "input_shape", "n_classes", "class_names", "peak", "state_dict"} - set(
        state
    )
    if missing:
        raise ValueError(f"{path} is not a complete DUQ checkpoint: missing {sorted(missing)}")
    refuse_stale(Path(path), state)
    if state.get("intensity") != INTENSITY_RULE:
        raise ValueError(
            f"{path} was trained on intensities that are not normalised ({INTENSITY_RULE!r}) "
            "by an older version; retrain it"
        )
    settings = _stored_settings(path, state["settings"])
    if (
        expected_settings is not None
        and settings.architecture() != expected_settings.architecture()
    ):
        diff = mismatches(settings.architecture(), expected_settings.architecture())
        raise ValueError(f"{path} holds another DUQ architecture: {'; '.join(diff)}")
    shape = (int(state["input_shape"][0]), int(state["input_shape"][1]))
    if expected_shape is not None and tuple(expected_shape) != shape:
        raise ValueError(
            f"{path} was trained on {shape[0]} x {shape[1]} spectra, not "
            f"{expected_shape[0]} x {expected_shape[1]}"
        )
    model = DuqNet(settings, int(state["n_classes"]))
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise ValueError(
            f"{path}: its weights do not fit the architecture it records ({first})"
        ) from None
    model.eval()
    return LoadedDuq(model, settings, shape, tuple(state["class_names"]), float(state["peak"]))


def _stored_settings(path: str | Path, stored: dict) -> DuqSettings:
    known = {f.name for f in fields(DuqSettings)}
    if set(stored) != known:
        raise ValueError(
            f"{path} holds DUQ settings with fields {sorted(set(stored) ^ known)} added or "
            "missing; it was written by another version of the classifier"
        )
    tuples = {"channels": tuple(stored["channels"]), "pool_shape": tuple(stored["pool_shape"])}
    return DuqSettings(**{**stored, **tuples})
