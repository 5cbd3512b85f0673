"""Exp2SimGAN training: DCLGAN-style dual training with Adam, constant-then-linear LR, resumable.

``train`` takes the float patches of both domains (NaN filled with 0, each divided by its source
spectrum's mean intensity, ``stages.patches.extract_patches``), scales each domain by
``DataScaling`` to [-1, 1], trains on random crops (no resizing) of independently drawn
convolved and unconvolved patches (unpaired), logs every loss term to ``out_dir/losses.csv``
and writes a checkpoint every ``checkpoint_every`` iterations (and at the end), each with the
translations of fixed sample crops in ``out_dir/samples/`` (``write_samples``). Rerun with the
same ``out_dir``, settings and data, it resumes from the latest checkpoint and reproduces the
uninterrupted run.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from exp2simgan_core.dataset import INTENSITY_RULE
from exp2simgan_core.gan.checkpoint import (
    DataScaling,
    checkpoint_path,
    latest_checkpoint,
    save_atomically,
)
from exp2simgan_core.gan.losses import LowPassFidelity
from exp2simgan_core.gan.model import DISCRIMINATOR_LOSS_TERMS, GENERATOR_LOSS_TERMS, DualGan
from exp2simgan_core.gan.settings import GanSettings
from exp2simgan_core.gan.state import TrainingState, set_aside_other_run
from exp2simgan_core.io import write_h5
from exp2simgan_core.vocabulary import DIRECTIONS

LOSS_LOG = "losses.csv"
SAMPLE_DIR = "samples"  # translations of fixed crops at every checkpoint: samples/iter_X.h5
N_SAMPLES = 4  # fixed crops per domain
LOSS_COLUMNS = ("iteration", *GENERATOR_LOSS_TERMS, *DISCRIMINATOR_LOSS_TERMS, "lr")


@dataclass(frozen=True)
class TrainResult:
    """Where training stopped: last iteration run, latest checkpoint, whether all epochs ran."""

    iteration: int
    last_checkpoint: Path | None
    completed: bool


def low_pass_fidelity(settings: GanSettings, scaling: DataScaling) -> LowPassFidelity | None:
    """The low-pass fidelity term of a run on data of ``scaling``; None at weight 0."""
    if settings.loss_weights.lowpass == 0:
        return None
    return LowPassFidelity(settings.lowpass_sigma, scaling.convolved_max / scaling.unconvolved_max)


def _check_patches(name: str, patches: np.ndarray, settings: GanSettings) -> None:
    if patches.ndim != settings.dims + 1:
        raise ValueError(
            f"{name} must have shape (n_patches, *spatial) with {settings.dims} spatial axes, "
            f"got shape {patches.shape}"
        )
    if len(patches) == 0:
        raise ValueError(f"{name} holds no patches")
    finite = np.isfinite(patches)
    if not finite.all():
        kind = "NaN" if np.isnan(patches).any() else "Inf"
        raise ValueError(
            f"{name} contains {kind} (patch {int(np.argwhere(~finite)[0][0])}); fill masked bins "
            "with 0 and remove non-finite intensities before training"
        )
    if patches.min() < 0:
        raise ValueError(
            f"{name} has negative intensities (minimum {float(patches.min()):.4g}); the GAN's "
            "scaling to [-1, 1] assumes intensities >= 0"
        )
    if min(patches.shape[1:]) < settings.crop_size:
        raise ValueError(
            f"{name} patches {patches.shape[1:]} are smaller than crop_size {settings.crop_size}"
        )


def data_scaling(convolved: np.ndarray, unconvolved: np.ndarray) -> DataScaling:
    """Per-domain maxima of the (normalised) training patches; raises ValueError if one is not
    positive."""
    scaling = DataScaling(float(convolved.max()), float(unconvolved.max()), INTENSITY_RULE)
    if scaling.convolved_max <= 0 or scaling.unconvolved_max <= 0:
        raise ValueError(f"training intensities must have a positive maximum, got {scaling}")
    return scaling


def data_fingerprint(convolved: np.ndarray, unconvolved: np.ndarray) -> str:
    """SHA-256 of both domains' float32 patches (shape and values): which data a run trained on."""
    digest = hashlib.sha256()
    for patches in (convolved, unconvolved):
        array = np.ascontiguousarray(patches, dtype=np.float32)
        digest.update(repr(array.shape).encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def random_crops(
    patches: np.ndarray, batch_size: int, crop: int, rng: np.random.Generator
) -> np.ndarray:
    """(batch_size, 1, *[crop] * dims) float32: random patches, each at a random offset."""
    idx = rng.integers(patches.shape[0], size=batch_size)
    out = []
    for i in idx:
        starts = [int(rng.integers(s - crop + 1)) for s in patches.shape[1:]]
        out.append(patches[(int(i), *(slice(a, a + crop) for a in starts))])
    return np.stack(out)[:, None].astype(np.float32)


def _scaled_crops(
    patches: np.ndarray,
    domain: str,
    scaling: DataScaling,
    settings: GanSettings,
    rng: np.random.Generator,
) -> torch.Tensor:
    """(batch_size, 1, *crop) float32 tensor of random crops scaled to [-1, 1]."""
    crops = random_crops(patches, settings.batch_size, settings.crop_size, rng)
    return torch.from_numpy(scaling.scale(crops, domain))


def sample_crops(
    convolved: np.ndarray, unconvolved: np.ndarray, crop: int
) -> dict[str, np.ndarray]:
    """The fixed crops translated at every checkpoint: the leading corner of the first
    ``N_SAMPLES`` patches of each domain, (n, *[crop] * dims) float32."""
    corner = (slice(0, N_SAMPLES),) + (slice(0, crop),) * (convolved.ndim - 1)
    return {"convolved": convolved[corner], "unconvolved": unconvolved[corner]}


def write_samples(
    model: DualGan,
    samples: dict[str, np.ndarray],
    scaling: DataScaling,
    out_dir: Path,
    iteration: int,
) -> None:
    """Write ``samples/iter_XXXXXXXX.h5``: the fixed crops and their translations, in intensity
    units: 'convolved' -> 'exp2sim', 'unconvolved' -> 'sim2exp'."""
    device = next(model.parameters()).device
    out = dict(samples)
    with torch.no_grad():
        for name, named in DIRECTIONS.items():
            generator = getattr(model, named.generator)
            x = scaling.scale(
                torch.from_numpy(samples[named.source][:, None]).to(device), named.source
            )
            y = scaling.unscale(generator(x), named.target).clamp(min=0.0)
            out[name] = y[:, 0].float().cpu().numpy()
    path = Path(out_dir) / SAMPLE_DIR / f"iter_{iteration:08d}.h5"
    write_h5(path, out, {"iteration": iteration})


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _autocast(settings: GanSettings, device_type: str):
    """Autocast to bfloat16 or float16 for those precisions (weights and optimiser stay float32);
    nothing for fp32."""
    if settings.precision in AUTOCAST_DTYPES:
        return torch.autocast(device_type=device_type, dtype=AUTOCAST_DTYPES[settings.precision])
    return contextlib.nullcontext()


def train_step(
    model: DualGan,
    optimisers: dict[str, torch.optim.Optimizer],
    real_exp: torch.Tensor,
    real_sim: torch.Tensor,
    settings: GanSettings,
    lowpass: LowPassFidelity | None = None,
    *,
    scaler: torch.amp.GradScaler,
) -> dict[str, float]:
    """One DCLGAN iteration: translate, update both discriminators, then generators and heads.

    real_exp, real_sim: (B, 1, *crop) scaled to [-1, 1]; ``lowpass`` is needed when
    ``settings.loss_weights.lowpass`` > 0 (``low_pass_fidelity``). ``scaler``
    (``state.grad_scaler``) scales both objectives before their backward passes and skips the
    updates whose gradients overflow; it is disabled, and changes nothing, unless the precision
    is fp16. Returns every loss term as a float.
    """
    autocast = functools.partial(_autocast, settings, real_exp.device.type)  # fresh per use
    with autocast():
        translations = model.translate(real_exp, real_sim)
    for d in model.discriminators():
        d.requires_grad_(True)
    optimisers["d"].zero_grad(set_to_none=True)
    with autocast():
        d_losses = model.discriminator_loss(
            real_exp, real_sim, translations.fake_exp, translations.fake_sim,
            weights=settings.loss_weights, gan_mode=settings.gan_mode,
        )  # fmt: skip
    scaler.scale(d_losses["d_total"]).backward()
    scaler.step(optimisers["d"])
    for d in model.discriminators():
        d.requires_grad_(False)
    optimisers["g"].zero_grad(set_to_none=True)
    optimisers["f"].zero_grad(set_to_none=True)
    with autocast():
        g_losses = model.generator_loss(
            real_exp, real_sim, translations,
            weights=settings.loss_weights, gan_mode=settings.gan_mode,
            num_patches=settings.num_patches, temperature=settings.nce_t, lowpass=lowpass,
        )  # fmt: skip
    scaler.scale(g_losses["g_total"]).backward()
    scaler.step(optimisers["g"])
    scaler.step(optimisers["f"])
    scaler.update()
    losses = {**g_losses, **d_losses}
    values = torch.stack([v.detach().float() for v in losses.values()]).tolist()  # one sync
    return dict(zip(losses, values, strict=True))


def _check_finite(losses: dict[str, float], iteration: int, last: Path | None) -> None:
    """Raise FloatingPointError naming the non-finite loss terms (before anything is saved)."""
    bad = {k: v for k, v in losses.items() if not math.isfinite(v)}
    if bad:
        terms = ", ".join(f"{k} = {v}" for k, v in bad.items())
        raise FloatingPointError(
            f"training diverged at iteration {iteration}: {terms}; nothing of this iteration was "
            f"saved (last checkpoint: {last.name if last else 'none'}). Lower gan.lr or check "
            "the training data"
        )


def _open_log(path: Path, resume_iteration: int) -> None:
    """Write the header, or keep only the rows up to the resumed iteration."""
    rows: list[list[str]] = []
    if resume_iteration > 0 and path.exists():
        with path.open(newline="") as f:
            rows = [r for r in list(csv.reader(f))[1:] if int(r[0]) <= resume_iteration]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([list(LOSS_COLUMNS), *rows])


def train(
    settings: GanSettings,
    convolved_patches: np.ndarray,
    unconvolved_patches: np.ndarray,
    out_dir: Path,
    progress: bool = True,
    *,
    device: str = "cpu",
    stop_after: int | None = None,
    set_aside_other_runs: bool = False,
) -> TrainResult:
    """Train (or resume) the dual GAN on (n, *spatial) normalised float patches of each domain.

    One epoch is ceil(max(n_convolved, n_unconvolved) / batch_size) iterations; the run lasts
    n_epochs_constant + n_epochs_decay epochs. ``stop_after`` ends the run after that many total
    iterations without a final checkpoint (as if killed; used by the resume tests). Raises
    ValueError on bad data, FloatingPointError if a loss stops being finite, and ValueError if
    the latest checkpoint in ``out_dir`` came from other settings, data or configuration, unless
    ``set_aside_other_runs``: then that run folder is renamed (``set_aside_other_run``) and
    training starts afresh.
    """
    settings.validate()
    patches = {
        "convolved": _checked_patches("convolved_patches", convolved_patches, settings),
        "unconvolved": _checked_patches("unconvolved_patches", unconvolved_patches, settings),
    }
    scaling = data_scaling(patches["convolved"], patches["unconvolved"])
    fingerprint = data_fingerprint(patches["convolved"], patches["unconvolved"])
    lowpass = low_pass_fidelity(settings, scaling)
    dev = torch.device(device)
    state = TrainingState.fresh(settings, scaling, fingerprint, dev)
    per_epoch = math.ceil(max(len(p) for p in patches.values()) / settings.batch_size)
    total = per_epoch * (settings.n_epochs_constant + settings.n_epochs_decay)
    out_dir = Path(out_dir)
    if set_aside_other_runs:
        set_aside_other_run(out_dir, settings, scaling, fingerprint)
    out_dir.mkdir(parents=True, exist_ok=True)
    last = latest_checkpoint(out_dir)
    iteration = start = 0 if last is None else state.resume_from(last)
    _open_log(out_dir / LOSS_LOG, start)
    samples = sample_crops(patches["convolved"], patches["unconvolved"], settings.crop_size)
    bar = tqdm(total=total, initial=start, disable=not progress, desc="Exp2SimGAN")
    with (out_dir / LOSS_LOG).open("a", newline="") as log:
        writer = csv.writer(log)
        for iteration in range(start + 1, total + 1):
            real_exp, real_sim = (_batch(state, patches[d], d, dev) for d in patches)
            losses = train_step(
                state.model, state.optimisers, real_exp, real_sim, settings, lowpass,
                scaler=state.scaler,
            )  # fmt: skip
            _log_losses(writer, log, losses, state, iteration, last, bar)
            if iteration % per_epoch == 0:
                for s in state.schedulers.values():
                    s.step()
            if iteration % settings.checkpoint_every == 0 or iteration == total:
                last = checkpoint_path(out_dir, iteration)
                save_atomically(state.to_checkpoint(iteration), last)
                write_samples(state.model, samples, scaling, out_dir, iteration)
            if stop_after is not None and iteration >= stop_after:
                break
    bar.close()
    return TrainResult(iteration=iteration, last_checkpoint=last, completed=iteration == total)


def _checked_patches(name: str, patches: np.ndarray, settings: GanSettings) -> np.ndarray:
    _check_patches(name, patches, settings)
    return np.asarray(patches, dtype=np.float32)


def _batch(state: TrainingState, patches: np.ndarray, domain: str, device: torch.device):
    """A batch of random crops of one domain, scaled, on ``device`` in the configured layout."""
    settings = state.settings
    channels_last = settings.channels_last and settings.dims == 2
    layout = torch.channels_last if channels_last else torch.contiguous_format
    crops = _scaled_crops(patches, domain, state.scaling, settings, state.rng)
    return crops.to(device, memory_format=layout)


def _log_losses(writer, log, losses: dict, state: TrainingState, iteration: int, last, bar) -> None:
    """One row of the loss log (flushed), the finiteness check and the progress bar."""
    lr = state.optimisers["g"].param_groups[0]["lr"]
    writer.writerow([iteration, *(f"{losses[k]:.8g}" for k in LOSS_COLUMNS[1:-1]), f"{lr:.8g}"])
    log.flush()
    _check_finite(losses, iteration, last)
    bar.update(1)
    bar.set_postfix({k: f"{losses[k]:.3f}" for k in ("g_gan", "g_nce", "g_idt", "d_total")})
