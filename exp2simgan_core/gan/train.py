"""Exp2SimGAN training: DCLGAN-style dual training with Adam, constant-then-linear LR, resumable.

``train`` takes the float patches of both domains (NaN filled with 0, each divided by its source
spectrum's mean intensity, ``exp2simgan_core.dataset.extract_patches``), scales each domain by
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
import itertools
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from exp2simgan_core.dataset import INTENSITY_RULE
from exp2simgan_core.gan.checkpoint import (
    DataScaling,
    architecture_record,
    checkpoint_path,
    latest_checkpoint,
    load_checkpoint,
    mismatches,
    read_checkpoint,
    save_atomically,
)
from exp2simgan_core.gan.losses import (
    ADVERSARIAL_LOSSES,
    PAPER_TEXT,
    LossWeights,
    LowPassFidelity,
)
from exp2simgan_core.gan.model import DISCRIMINATOR_LOSS_TERMS, GENERATOR_LOSS_TERMS, DualGan
from exp2simgan_core.gan.networks import (
    SIZE_MULTIPLE,
    DiscriminatorSettings,
    GeneratorSettings,
    patchgan_output_size,
)
from exp2simgan_core.io import write_h5
from exp2simgan_core.provenance import input_problem
from exp2simgan_core.version import code_version
from exp2simgan_core.vocabulary import DIRECTIONS

LOSS_LOG = "losses.csv"
PRECISIONS = ("fp32", "bf16")
SAMPLE_DIR = "samples"  # translations of fixed crops at every checkpoint: samples/iter_X.h5
N_SAMPLES = 4  # fixed crops per domain
LOSS_COLUMNS = ("iteration", *GENERATOR_LOSS_TERMS, *DISCRIMINATOR_LOSS_TERMS, "lr")


@dataclass(frozen=True)
class GanSettings:
    """Everything that defines a training run. Defaults are the paper's networks, losses and
    optimiser (2D); the crop size is the authors' 256 (the paper preset's config sets 128, its
    patch size)."""

    dims: int = 2
    generator: str = "resnet"
    discriminator: str = "patchgan"
    ngf: int = 64
    n_blocks: int = 9
    residual: bool = False  # generators output clamp(x + net(x)); see ResnetGenerator
    ndf: int = 64
    n_layers_d: int = 3
    nce_layers: tuple[int, ...] = (4, 8, 12, 16)  # ResnetGenerator.model indices (DCLGAN's)
    num_patches: int = 256
    mlp_dim: int = 256
    nce_t: float = 0.07
    gan_mode: str = "lsgan"  # key of ADVERSARIAL_LOSSES
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 1
    n_epochs_constant: int = 200  # epochs at lr
    n_epochs_decay: int = 200  # epochs of linear decay towards 0
    crop_size: int = 256  # bins along every spatial axis; a multiple of 4
    loss_weights: LossWeights = field(default_factory=lambda: PAPER_TEXT)
    seed: int = 0
    checkpoint_every: int = 1000  # iterations
    precision: str = "fp32"  # "bf16": forward passes and losses under bfloat16 autocast
    channels_last: bool = False  # 2D only: NHWC memory layout (faster convolutions on GPUs)
    compile: bool = False  # torch.compile the generators and discriminators in place
    lowpass_sigma: float = 2.0  # pixels; LowPassFidelity, used when loss_weights.lowpass > 0

    def generator_settings(self) -> GeneratorSettings:
        return GeneratorSettings(
            dims=self.dims, ngf=self.ngf, n_blocks=self.n_blocks, residual=self.residual
        )

    def discriminator_settings(self) -> DiscriminatorSettings:
        return DiscriminatorSettings(dims=self.dims, ndf=self.ndf, n_layers=self.n_layers_d)

    def architecture(self) -> dict:
        """The record a checkpoint stores and a resume or load must match."""
        return architecture_record(
            self.generator,
            self.generator_settings(),
            discriminator_name=self.discriminator,
            discriminator=asdict(self.discriminator_settings()),
            nce_layers=list(self.nce_layers),
            mlp_dim=self.mlp_dim,
        )

    def validate(self) -> None:
        """Raise ValueError naming the first setting that cannot work."""
        if self.gan_mode not in ADVERSARIAL_LOSSES:
            raise ValueError(f"gan_mode {self.gan_mode!r} not in {sorted(ADVERSARIAL_LOSSES)}")
        if self.crop_size % SIZE_MULTIPLE:
            raise ValueError(f"crop_size {self.crop_size} must be a multiple of {SIZE_MULTIPLE}")
        if patchgan_output_size(self.crop_size, self.n_layers_d) < 1:
            raise ValueError(
                f"crop_size {self.crop_size} is too small for a {self.n_layers_d}-layer PatchGAN"
            )
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r} not in {PRECISIONS}")
        if self.checkpoint_every < 1 or self.batch_size < 1:
            raise ValueError("checkpoint_every and batch_size must be positive")
        if not (self.lowpass_sigma > 0 and math.ceil(3 * self.lowpass_sigma) < self.crop_size):
            raise ValueError(
                f"lowpass_sigma {self.lowpass_sigma} must be positive, its kernel radius "
                f"(3 sigma, rounded up) below crop_size ({self.crop_size})"
            )


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


def lr_lambda(n_constant: int, n_decay: int) -> Callable[[int], float]:
    """CUT's linear rule: factor 1 for n_constant epochs, then 1 - k / (n_decay + 1)."""
    return lambda epoch: 1.0 - max(0, epoch + 1 - n_constant) / float(n_decay + 1)


def build_training(
    settings: GanSettings, device: torch.device
) -> tuple[DualGan, dict[str, torch.optim.Optimizer], dict[str, torch.optim.lr_scheduler.LambdaLR]]:
    """Fresh networks (drawn from the torch RNG), Adam optimisers "g", "d", "f", schedulers."""
    model = DualGan(
        generator=settings.generator_settings(),
        discriminator=settings.discriminator_settings(),
        generator_name=settings.generator,
        discriminator_name=settings.discriminator,
        nce_layers=settings.nce_layers,
        mlp_dim=settings.mlp_dim,
    ).to(device)
    if settings.channels_last and settings.dims == 2:
        model = model.to(memory_format=torch.channels_last)
    if settings.compile:  # in place: state_dict keys, hence checkpoints, are unchanged
        for module in (*model.generators(), *model.discriminators()):
            module.compile()
        for generator in model.generators():  # the translation and PatchNCE query passes
            generator.forward_and_encode = torch.compile(generator.forward_and_encode)
            generator.encode = torch.compile(generator.encode)
    fused = device.type == "cuda"
    groups = {"g": model.generators(), "d": model.discriminators(), "f": model.heads()}
    optimisers = {
        k: torch.optim.Adam(
            [p for m in mods for p in m.parameters()],
            lr=settings.lr,
            betas=settings.betas,
            fused=fused,
        )
        for k, mods in groups.items()
    }
    rule = lr_lambda(settings.n_epochs_constant, settings.n_epochs_decay)
    schedulers = {k: torch.optim.lr_scheduler.LambdaLR(o, rule) for k, o in optimisers.items()}
    return model, optimisers, schedulers


def _autocast(settings: GanSettings, device_type: str):
    """bfloat16 autocast for ``precision == "bf16"`` (weights and optimiser stay float32)."""
    if settings.precision == "bf16":
        return torch.autocast(device_type=device_type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(
    model: DualGan,
    optimisers: dict[str, torch.optim.Optimizer],
    real_exp: torch.Tensor,
    real_sim: torch.Tensor,
    settings: GanSettings,
    lowpass: LowPassFidelity | None = None,
) -> dict[str, float]:
    """One DCLGAN iteration: translate, update both discriminators, then generators and heads.

    real_exp, real_sim: (B, 1, *crop) scaled to [-1, 1]; ``lowpass`` is needed when
    ``settings.loss_weights.lowpass`` > 0 (``low_pass_fidelity``). Returns every loss term as a
    float.
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
    d_losses["d_total"].backward()
    optimisers["d"].step()
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
    g_losses["g_total"].backward()
    optimisers["g"].step()
    optimisers["f"].step()
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
    _check_patches("convolved_patches", convolved_patches, settings)
    _check_patches("unconvolved_patches", unconvolved_patches, settings)
    convolved_patches = np.asarray(convolved_patches, dtype=np.float32)
    unconvolved_patches = np.asarray(unconvolved_patches, dtype=np.float32)
    scaling = data_scaling(convolved_patches, unconvolved_patches)
    lowpass = low_pass_fidelity(settings, scaling)
    fingerprint = data_fingerprint(convolved_patches, unconvolved_patches)
    dev = torch.device(device)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    model, optimisers, schedulers = build_training(settings, dev)
    per_epoch = math.ceil(
        max(len(convolved_patches), len(unconvolved_patches)) / settings.batch_size
    )
    total = per_epoch * (settings.n_epochs_constant + settings.n_epochs_decay)
    out_dir = Path(out_dir)
    if set_aside_other_runs:
        set_aside_other_run(out_dir, settings, scaling, fingerprint)
    out_dir.mkdir(parents=True, exist_ok=True)
    start, last = 0, latest_checkpoint(out_dir)
    if last is not None:
        start = _resume(last, settings, scaling, fingerprint, model, optimisers, schedulers, rng)
    _open_log(out_dir / LOSS_LOG, start)
    samples = sample_crops(convolved_patches, unconvolved_patches, settings.crop_size)
    bar = tqdm(total=total, initial=start, disable=not progress, desc="Exp2SimGAN")
    iteration = start
    layout = (
        torch.channels_last
        if settings.channels_last and settings.dims == 2
        else torch.contiguous_format
    )
    with (out_dir / LOSS_LOG).open("a", newline="") as log:
        writer = csv.writer(log)
        for iteration in range(start + 1, total + 1):
            real_exp, real_sim = (
                _scaled_crops(p, domain, scaling, settings, rng).to(dev, memory_format=layout)
                for p, domain in (
                    (convolved_patches, "convolved"),
                    (unconvolved_patches, "unconvolved"),
                )
            )
            losses = train_step(model, optimisers, real_exp, real_sim, settings, lowpass)
            lr = optimisers["g"].param_groups[0]["lr"]
            writer.writerow(
                [iteration, *(f"{losses[k]:.8g}" for k in LOSS_COLUMNS[1:-1]), f"{lr:.8g}"]
            )
            log.flush()
            _check_finite(losses, iteration, last)
            bar.update(1)
            bar.set_postfix({k: f"{losses[k]:.3f}" for k in ("g_gan", "g_nce", "g_idt", "d_total")})
            if iteration % per_epoch == 0:
                for s in schedulers.values():
                    s.step()
            if iteration % settings.checkpoint_every == 0 or iteration == total:
                last = checkpoint_path(out_dir, iteration)
                state = _state(
                    settings, scaling, fingerprint, model, optimisers, schedulers, rng, iteration
                )
                save_atomically(state, last)
                write_samples(model, samples, scaling, out_dir, iteration)
            if stop_after is not None and iteration >= stop_after:
                break
    bar.close()
    return TrainResult(iteration=iteration, last_checkpoint=last, completed=iteration == total)


Optimisers = dict[str, torch.optim.Optimizer]
Schedulers = dict[str, torch.optim.lr_scheduler.LambdaLR]


def _state(
    settings: GanSettings,
    scaling: DataScaling,
    fingerprint: str,
    model: DualGan,
    optimisers: Optimisers,
    schedulers: Schedulers,
    rng: np.random.Generator,
    iteration: int,
) -> dict:
    """The checkpoint dict described in ``exp2simgan_core.gan.checkpoint``."""
    return {
        "networks": {name: module.state_dict() for name, module in model.named_children()},
        "optimisers": {k: o.state_dict() for k, o in optimisers.items()},
        "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
        "rng": {"torch": torch.get_rng_state(), "numpy": rng.bit_generator.state},
        "iteration": iteration,
        "settings": asdict(settings),
        "architecture": settings.architecture(),
        "scaling": asdict(scaling),
        "data_sha256": fingerprint,
        "code_version": code_version(),
    }


def _resume_problem(
    state: dict, settings: GanSettings, scaling: DataScaling, fingerprint: str
) -> str | None:
    """Why checkpoint ``state`` cannot continue a run of ``settings`` on data of ``scaling`` and
    ``fingerprint`` (``data_fingerprint``)."""
    diff = mismatches(state["architecture"], settings.architecture())
    if diff:
        return f"was trained with another architecture: {'; '.join(diff)}"
    diff = mismatches(state["settings"], asdict(settings)) + mismatches(
        state["scaling"], asdict(scaling)
    )
    if diff:
        return f"came from other settings or data ({'; '.join(diff)})"
    if state.get("data_sha256") != fingerprint:
        return "was trained on other patches (their SHA-256 differs)"
    return None


def set_aside_other_run(
    out_dir: Path, settings: GanSettings, scaling: DataScaling, fingerprint: str
) -> Path | None:
    """Rename ``out_dir`` to ``<name>.superseded-<k>`` if its latest checkpoint cannot be resumed.

    It cannot when it was written under another workflow configuration (stale, see
    ``provenance``) or with other settings, architecture or data. Nothing is deleted: the old
    run keeps its checkpoints, losses and samples. Returns the new path, or None if nothing was
    moved (no checkpoint, or a resumable one).
    """
    last = latest_checkpoint(out_dir)
    if last is None:
        return None
    state = read_checkpoint(last)
    problem = input_problem(state) or _resume_problem(state, settings, scaling, fingerprint)
    if problem is None:
        return None
    aside = next(
        path
        for k in itertools.count(1)
        if not (path := out_dir.with_name(f"{out_dir.name}.superseded-{k}")).exists()
    )
    out_dir.rename(aside)
    logging.warning(
        "%s: %s %s; the run is set aside as %s and training starts afresh",
        out_dir, last.name, problem, aside,
    )  # fmt: skip
    return aside


def _resume(
    path: Path,
    settings: GanSettings,
    scaling: DataScaling,
    fingerprint: str,
    model: DualGan,
    optimisers: Optimisers,
    schedulers: Schedulers,
    rng: np.random.Generator,
) -> int:
    """Load ``path`` into the freshly built objects; return its iteration. Refuses other runs."""
    state = load_checkpoint(path)
    problem = _resume_problem(state, settings, scaling, fingerprint)
    if problem:
        raise ValueError(f"{path} {problem}; use a new out_dir")
    for name, module in model.named_children():
        module.load_state_dict(state["networks"][name])
    for k, o in optimisers.items():
        o.load_state_dict(state["optimisers"][k])
    for k, s in schedulers.items():
        s.load_state_dict(state["schedulers"][k])
    torch.set_rng_state(state["rng"]["torch"])
    rng.bit_generator.state = state["rng"]["numpy"]
    return int(state["iteration"])
