"""Back-translation: an Exp2Sim generator trained on pairs that the Sim2Exp generator makes.

Not in the paper. The unpaired GAN's Sim2Exp generator learns the resolution broadening well
(it convolves), while its Exp2Sim generator may stay close to the identity: the adversarial and
PatchNCE objectives do not say which energy bin a broadened mode came from, and a 2D crop does
not show all the bins of a pixel. Back-translation (as in unsupervised machine translation) turns
the working direction into training data for the other:

1. each unconvolved training spectrum x is convolved by the selected Sim2Exp generator,
   giving the pseudo-pair (G_sim2exp(x), x); no true pair (the simulation's own convolved
   spectrum of x) is used, so the method stays unpaired;
2. a fresh generator of the GAN's architecture learns G_sim2exp(x) -> x on whole spectra by
   mean squared error in the GAN's scaled units (batch 1, Adam), so it sees every energy bin
   and incident energy of a pixel, and estimates the mean of x given its broadened version
   rather than sampling one sharp spectrum as a GAN does;
3. it replaces the Exp2Sim generator of the checkpoint; the Sim2Exp generator, the scaling and
   the architecture record are unchanged, so the result loads and translates like any
   checkpoint.

Spectra are whole training spectra (n, *S), float intensities, NaN = uncovered; both members of
a pseudo-pair are normalised by their own covered mean (``dataset.normalised``) and scaled by
the checkpoint's ``DataScaling``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from exp2simgan_core import streams
from exp2simgan_core.gan.checkpoint import (
    LoadedGenerator,
)
from exp2simgan_core.gan.networks import ResnetGenerator, pad_to_multiple
from exp2simgan_core.gan.translate import translate_spectra
from exp2simgan_core.util import settings_from_config
from exp2simgan_core.vocabulary import SIM2EXP

LOG_EVERY = 50  # iterations per row of the loss log (mean MSE over them)


@dataclass(frozen=True)
class BackTranslationSettings:
    """How the Exp2Sim generator is trained on Sim2Exp pseudo-pairs (0 iterations: not at all)."""

    iterations: int = 0
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    seed: int = 0

    @classmethod
    def from_config(cls, section: Mapping[str, Any], seed: int) -> BackTranslationSettings:
        """From the config's ``back_translation`` section and the run's seed."""
        return settings_from_config(cls, "back_translation", section, seed=seed)

    def __post_init__(self) -> None:
        if not (isinstance(self.iterations, int) and self.iterations >= 0):
            raise ValueError(
                f"back-translation iterations must be an integer >= 0, got {self.iterations!r}"
            )
        if not self.lr > 0:
            raise ValueError(f"back-translation lr must be > 0, got {self.lr}")


def pseudo_pairs(
    sim2exp: LoadedGenerator, unconvolved: np.ndarray, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets), each (n, 1, *S') float32 in the scaled units of their domains.

    inputs = G_sim2exp(x) scaled as convolved spectra, targets = x scaled as unconvolved ones;
    S' is S padded to multiples of 4 (``networks.pad_to_multiple``), as in translation.
    """
    if sim2exp.direction != SIM2EXP:
        raise ValueError(f"pseudo-pairs need the sim2exp generator, got {sim2exp.direction}")
    fake = translate_spectra(sim2exp, unconvolved, device=device)
    inputs = sim2exp.scaling.network_input(fake, "convolved")
    targets = sim2exp.scaling.network_input(unconvolved, "unconvolved")
    return pad_to_multiple(inputs), pad_to_multiple(targets)


def train_back_translation(
    inputs: torch.Tensor,
    targets: torch.Tensor,
    generator: ResnetGenerator,
    settings: BackTranslationSettings,
    progress: bool = True,
) -> list[tuple[int, float]]:
    """Train ``generator`` in place on the pairs by MSE; returns (iteration, mean loss) rows.

    One pair per iteration, drawn by a generator seeded with ``settings.seed``.
    """
    if inputs.shape != targets.shape or inputs.ndim != generator.settings.dims + 2:
        raise ValueError(
            f"inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} must be the same "
            f"(n, 1, *spatial) stack for a {generator.settings.dims}D generator"
        )
    device = next(generator.parameters()).device
    optimiser = torch.optim.Adam(generator.parameters(), lr=settings.lr, betas=settings.betas)
    rng = streams.rng(settings.seed, "back_translation/pairs")
    generator.train()
    rows, running = [], []
    for iteration in tqdm(
        range(1, settings.iterations + 1), disable=not progress, desc="back-translation"
    ):
        i = int(rng.integers(len(inputs)))
        x, y = inputs[i : i + 1].to(device), targets[i : i + 1].to(device)
        loss = torch.mean((generator(x) - y) ** 2)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        running.append(loss.detach())
        if iteration % LOG_EVERY == 0 or iteration == settings.iterations:
            rows.append((iteration, float(torch.stack(running).mean())))
            running = []
    generator.eval()
    return rows
