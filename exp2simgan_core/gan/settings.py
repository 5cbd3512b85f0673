"""What defines a GAN training run, without torch: network shapes, loss weights, ``GanSettings``
and its construction from the config's ``gan`` section (``gan_settings``).

Building the workflow's DAG checks these settings; keeping them free of torch keeps a dry run
fast. The registries of the networks and losses themselves (torch modules and functions) are in
``networks`` and ``losses``; tests prove their keys equal the names listed here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from exp2simgan_core.util import settings_from_config

N_DOWNSAMPLING = 2
SIZE_MULTIPLE = 2**N_DOWNSAMPLING  # spatial sizes the generator maps onto themselves
GENERATOR_NAMES = ("resnet",)  # keys of networks.GENERATORS
DISCRIMINATOR_NAMES = ("patchgan",)  # keys of networks.DISCRIMINATORS
ADVERSARIAL_MODES = ("lsgan", "hinge")  # keys of losses.ADVERSARIAL_LOSSES
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class GeneratorSettings:
    """ResNet generator shape. Paper: dims 2 or 3, ngf 64, n_blocks 9, one channel in and out."""

    dims: int = 2
    ngf: int = 64  # filters of the first conv; doubled at each of the 2 down-samplings
    n_blocks: int = 9  # residual blocks at 1/4 resolution
    input_nc: int = 1
    output_nc: int = 1
    residual: bool = False  # output clamp(x + net(x), -1, 1): a correction of the input

    @property
    def n_encoder_layers(self) -> int:
        """Number of valid encoder layer indices: stem, down-sampling and residual blocks."""
        return 4 + 4 * N_DOWNSAMPLING + self.n_blocks


@dataclass(frozen=True)
class DiscriminatorSettings:
    """PatchGAN shape. Paper: ndf 64, 3 layers, one input channel, two output channels."""

    dims: int = 2
    ndf: int = 64
    n_layers: int = 3
    input_nc: int = 1
    output_nc: int = 2  # channel 0: real/fake score, channel 1: auxiliary domain class


def patchgan_output_size(size: int, n_layers: int) -> int:
    """Spatial size of the PatchGAN score map for an input axis of ``size`` bins (0: too small)."""
    for _ in range(n_layers):
        size = -(-(size - 1) // 2)  # conv4 pad 1 loses a bin, Downsample halves rounding up
    return max(size - 2, 0)  # two final conv4 pad 1 layers


def architecture_record(generator_name: str, generator: GeneratorSettings, **extra: Any) -> dict:
    """What a checkpoint must match to be loaded: registry names and network shapes."""
    return {"generator_name": generator_name, "generator": asdict(generator), **extra}


@dataclass(frozen=True)
class LossWeights:
    """Weights of the generator objective GAN + NCE + identity (+ auxiliary).

    ``aux`` weights the auxiliary MSE in the discriminator objective and, when ``aux_in_generator``,
    also in the generator objective (the generator then asks the target-domain discriminator to
    classify its output as that domain). ``cycle`` (not in the paper, 0 there) weights CycleGAN's
    cycle consistency, the L1 distance between each real crop and its translation translated back:
    the Sim2Exp generator then acts as the learned forward (resolution) model that Exp2Sim's
    output must reproduce its input through. ``lowpass`` (not in the paper, 0 there) weights
    ``losses.LowPassFidelity``.
    """

    gan: float = 1.0
    nce: float = 4.0
    idt: float = 2.0
    aux: float = 1.0
    aux_in_generator: bool = True
    cycle: float = 0.0
    lowpass: float = 0.0


PAPER_TEXT = LossWeights()  # GAN : NCE : IDT : AUX = 1 : 4 : 2 : 1, as written in the paper
AUTHORS_RELEASED = LossWeights(gan=1.0, nce=2.0, idt=1.0, aux=1.0, aux_in_generator=False)
LOSS_WEIGHT_PRESETS: dict[str, LossWeights] = {
    "paper_text": PAPER_TEXT,
    "authors_released": AUTHORS_RELEASED,
}


@dataclass(frozen=True)
class GanSettings:
    """Everything that defines a training run. Defaults are the paper's networks, losses and
    optimiser (2D) and equal config/schema.yaml's (tests/test_config.py): crops of 128, the
    paper preset's patch size (the authors cropped 256)."""

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
    gan_mode: str = "lsgan"  # one of ADVERSARIAL_MODES
    lr: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 1
    n_epochs_constant: int = 200  # epochs at lr
    n_epochs_decay: int = 200  # epochs of linear decay towards 0
    crop_size: int = 128  # bins along every spatial axis; a multiple of 4
    loss_weights: LossWeights = field(default_factory=lambda: PAPER_TEXT)
    seed: int = 0
    checkpoint_every: int = 50000  # iterations
    # "bf16" / "fp16": forward passes and losses under bfloat16 / float16 autocast (fp16 with
    # dynamic loss scaling); weights, optimisers and inference stay float32
    precision: str = "fp32"
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

    @classmethod
    def from_config(cls, section: Mapping[str, Any], seed: int, dims: int = 2) -> GanSettings:
        """From the config's ``gan`` section (the 3D GAN's: ``config.volume_gan_section``) and
        the run's seed. ``loss_weights`` names a preset of ``LOSS_WEIGHT_PRESETS``; the section's
        ``cycle_weight``, ``identity_weight`` and ``lowpass_weight`` replace its weights. Raises
        ValueError naming an unknown key or a setting that cannot work."""
        values = dict(section)
        weights = values.pop("loss_weights", "paper_text")
        if weights not in LOSS_WEIGHT_PRESETS:
            raise ValueError(f"gan.loss_weights {weights!r} not in {sorted(LOSS_WEIGHT_PRESETS)}")
        preset = LOSS_WEIGHT_PRESETS[weights]
        cycle = float(values.pop("cycle_weight", 0.0))
        lowpass = float(values.pop("lowpass_weight", 0.0))
        identity = values.pop("identity_weight", None)
        identity = preset.idt if identity is None else float(identity)
        for key, value in (
            ("cycle_weight", cycle), ("identity_weight", identity), ("lowpass_weight", lowpass)
        ):  # fmt: skip
            if not value >= 0:
                raise ValueError(f"gan.{key} must be >= 0, got {value}")
        weights = dataclasses.replace(preset, cycle=cycle, idt=identity, lowpass=lowpass)
        settings = settings_from_config(
            cls, "gan", values, dims=dims, seed=seed, loss_weights=weights
        )
        n_layers = settings.generator_settings().n_encoder_layers
        if max(settings.nce_layers) >= n_layers:
            raise ValueError(
                f"n_blocks={settings.n_blocks} gives encoder layers 0..{n_layers - 1}, but "
                f"PatchNCE uses layers {settings.nce_layers}: use n_blocks >= 5"
            )
        return settings

    def validate(self) -> None:
        """Raise ValueError naming the first setting that cannot work."""
        for name, value, known in (
            ("generator", self.generator, GENERATOR_NAMES),
            ("discriminator", self.discriminator, DISCRIMINATOR_NAMES),
            ("gan_mode", self.gan_mode, ADVERSARIAL_MODES),
        ):
            if value not in known:
                raise ValueError(f"{name} {value!r} not in {list(known)}")
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
        if self.n_epochs_constant + self.n_epochs_decay < 1:
            raise ValueError(
                "n_epochs_constant + n_epochs_decay must be >= 1 (no training), got "
                f"{self.n_epochs_constant} + {self.n_epochs_decay}"
            )
        if not (self.lowpass_sigma > 0 and math.ceil(3 * self.lowpass_sigma) < self.crop_size):
            raise ValueError(
                f"lowpass_sigma {self.lowpass_sigma} must be positive, its kernel radius "
                f"(3 sigma, rounded up) below crop_size ({self.crop_size})"
            )
