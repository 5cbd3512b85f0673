"""Checkpoint files of Exp2SimGAN training: atomic writing, discovery, and generator loading.

A checkpoint ``checkpoints/iter_XXXXXXXX.pt`` (8-digit iteration) is a dict with keys
``networks`` (state dicts of g_exp2sim, g_sim2exp, d_sim, d_exp, head_exp2sim, head_sim2exp),
``optimisers``, ``schedulers``, ``grad_scaler`` (the loss scale of fp16 training; empty
otherwise), ``rng`` (torch CPU state, numpy Generator state), ``iteration``,
``settings`` (GanSettings as a dict), ``architecture`` (the record below), ``scaling``
(DataScaling as a dict), ``data_sha256`` (``train.data_fingerprint`` of the patches; resuming
checks it) and ``code_version``. It loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from exp2simgan_core.dataset import (
    INTENSITY_RULE,
    NEGATIVE_TOLERANCE,
    check_spectra,
    intensity_unit,
    normalised,
)
from exp2simgan_core.gan.networks import GENERATORS, MIN_FULL_SIZE, ResnetGenerator
from exp2simgan_core.gan.settings import GeneratorSettings
from exp2simgan_core.io import read_torch_file
from exp2simgan_core.provenance import input_problem, output_attrs
from exp2simgan_core.util import atomic_path
from exp2simgan_core.vocabulary import direction as get_direction

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_PATTERN = re.compile(r"^iter_(\d{8})\.pt$")


@dataclass(frozen=True)
class DataScaling:
    """Linear map of normalised intensities to the generators' [-1, 1] range, one per domain.

    scaled = x / max_x * 2 - 1, where x is a spectrum divided by its mean over covered bins
    (``intensity``, the rule of ``exp2simgan_core.dataset.normalised``) and max_x the largest
    such intensity of that domain's training patches; inverse: (y + 1) / 2 * max_x.
    Intensities are assumed non-negative with NaN already filled by 0.
    """

    convolved_max: float
    unconvolved_max: float
    intensity: str  # INTENSITY_RULE of the training patches

    def scale(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return x / self._max(domain) * 2.0 - 1.0

    def network_input(self, spectra: np.ndarray, domain: str, device: str = "cpu") -> torch.Tensor:
        """(n, 1, *S) float32 on ``device``: (n, *S) spectra of ``domain`` in any unit, NaN =
        uncovered, ``normalised`` (the fill rule) and scaled to [-1, 1], as generators read them."""
        x = torch.from_numpy(normalised(spectra)[0]).unsqueeze(1)
        return self.scale(x.to(device), domain)

    def unscale(self, y: torch.Tensor, domain: str) -> torch.Tensor:
        return (y + 1.0) / 2.0 * self._max(domain)

    def _max(self, domain: str) -> float:
        maxima = {"convolved": self.convolved_max, "unconvolved": self.unconvolved_max}
        if domain not in maxima:
            raise ValueError(f"domain must be 'convolved' or 'unconvolved', got {domain!r}")
        return maxima[domain]


@dataclass(frozen=True)
class LoadedGenerator:
    """A trained generator (eval mode) with the scaling of its input and output domains."""

    generator: ResnetGenerator
    direction: str
    input_domain: str
    output_domain: str
    scaling: DataScaling

    def check_input(self, spectra: np.ndarray) -> np.ndarray:
        """Float32 copy of (n, *S) spectra of the input domain, checked before any work.

        Raises ValueError naming the problem: ``dataset.check_spectra``'s (rank of the
        generator's dimensions, Inf, a spectrum NaN everywhere), an axis shorter than
        ``MIN_FULL_SIZE`` bins, intensities below -``NEGATIVE_TOLERANCE`` x a spectrum's maximum
        (subtract the background first), or a spectrum that cannot be normalised.
        """
        dims = self.generator.settings.dims
        x = check_spectra(spectra, what=f"a {dims}D generator", dims=dims)
        if min(x.shape[1:]) < MIN_FULL_SIZE:
            raise ValueError(
                f"spectra of shape {x.shape[1:]} are too small for the generator: it needs "
                f"every axis >= {MIN_FULL_SIZE} bins"
            )
        for i, s in enumerate(x):
            peak, low = float(np.nanmax(s)), float(np.nanmin(s))
            if low < -NEGATIVE_TOLERANCE * max(peak, 0.0):
                raise ValueError(
                    f"spectrum {i} has intensities down to {low:g}, below "
                    f"-{NEGATIVE_TOLERANCE:g} x its maximum {peak:g}; subtract the background so "
                    "that intensities are >= 0"
                )
        intensity_unit(x)  # names the first spectrum that cannot be normalised
        return x


def checkpoint_path(out_dir: Path, iteration: int) -> Path:
    return Path(out_dir) / CHECKPOINT_DIR / f"iter_{iteration:08d}.pt"


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The checkpoint with the highest iteration under ``out_dir/checkpoints``, or None."""
    folder = Path(out_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return None
    found = [
        (int(m.group(1)), p) for p in folder.iterdir() if (m := CHECKPOINT_PATTERN.match(p.name))
    ]
    return max(found)[1] if found else None


def save_atomically(state: dict, path: Path) -> None:
    """torch.save atomically (``util.atomic_path``): never a partial file.

    Inside a workflow job the configuration record of ``provenance.output_attrs`` is added.
    """
    with atomic_path(path) as tmp:
        torch.save({**state, **output_attrs()}, tmp)


def refuse_stale(path: Path, state: dict) -> None:
    """Raise ValueError if checkpoint ``state`` was written under another configuration.

    Only inside a workflow job (``exp2simgan_core.provenance``); the message names every
    differing configuration key.
    """
    problem = input_problem(state)
    if problem:
        raise ValueError(
            f"{path}: {problem}; delete it (for a training run, its whole run folder) and rerun"
        )


def read_checkpoint(path: Path) -> dict:
    """Read a checkpoint dict (tensors on CPU), without the staleness check. Raises ValueError if
    it lacks the expected keys."""
    state = read_torch_file(path, "Exp2SimGAN checkpoint")
    missing = {"networks", "architecture", "settings", "scaling", "iteration"} - set(state)
    if missing:
        raise ValueError(f"{path} is not an Exp2SimGAN checkpoint: missing {sorted(missing)}")
    return state


def load_checkpoint(path: Path) -> dict:
    """``read_checkpoint``, then ``refuse_stale``: ValueError if keys are missing or it is stale."""
    state = read_checkpoint(path)
    refuse_stale(path, state)
    return state


def mismatches(found: dict, expected: dict, prefix: str = "") -> list[str]:
    """Human-readable 'key: checkpoint X, expected Y' lines for differing (nested) entries."""
    lines = []
    for key in sorted(set(found) | set(expected)):
        a, b = found.get(key), expected.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            lines += mismatches(a, b, f"{prefix}{key}.")
        elif a != b and not (
            isinstance(a, list | tuple) and isinstance(b, list | tuple) and list(a) == list(b)
        ):
            lines.append(f"{prefix}{key}: checkpoint {a!r}, expected {b!r}")
    return lines


def load_generator(
    path: Path,
    direction: str,
    *,
    dims: int | None = None,
    expected: GeneratorSettings | None = None,
) -> LoadedGenerator:
    """Load one generator ("exp2sim": convolved -> unconvolved, or "sim2exp") from a checkpoint.

    ``dims`` and ``expected`` state what the caller needs; a checkpoint of another dimension or
    generator architecture raises ValueError naming each mismatch, as does an unknown direction.
    """
    named = get_direction(direction)
    state = load_checkpoint(Path(path))
    record = state["architecture"]
    if record.get("generator_name") not in GENERATORS:
        raise ValueError(
            f"{path}: generator architecture {record.get('generator_name')!r} is not one of "
            f"{sorted(GENERATORS)}"
        )
    try:
        settings = GeneratorSettings(**record["generator"])
    except (TypeError, KeyError) as err:
        raise ValueError(f"{path}: its architecture record is not this version's ({err})") from None
    if dims is not None and settings.dims != dims:
        raise ValueError(f"{path} holds a {settings.dims}D generator; a {dims}D one was requested")
    if expected is not None and settings != expected:
        diff = mismatches(asdict(settings), asdict(expected))
        raise ValueError(f"{path} holds another generator architecture: {'; '.join(diff)}")
    if state["scaling"].get("intensity") != INTENSITY_RULE:
        raise ValueError(
            f"{path} was trained on intensities that are not normalised ({INTENSITY_RULE!r}) "
            "by an older version; retrain it"
        )
    generator = GENERATORS[record["generator_name"]](settings)
    try:
        generator.load_state_dict(state["networks"][named.generator])
    except (KeyError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0]
        raise ValueError(
            f"{path}: its {named.generator} weights do not fit the architecture it records "
            f"({first})"
        ) from None
    generator.eval()
    return LoadedGenerator(
        generator=generator,
        direction=direction,
        input_domain=named.source,
        output_domain=named.target,
        scaling=DataScaling(**state["scaling"]),
    )
