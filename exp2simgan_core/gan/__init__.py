"""Exp2SimGAN: dual contrastive GAN between convolved (experiment-like) and unconvolved spectra.

Modules: ``layers`` (dimension-generic blocks), ``networks`` (generator, discriminator, PatchNCE
heads, ``translate_full``), ``losses``, ``model`` (the dual GAN), ``checkpoint`` (files, scaling,
``load_generator``) and ``train`` (``GanSettings``, ``train``).
"""

from exp2simgan_core.gan.checkpoint import DataScaling, LoadedGenerator, load_generator
from exp2simgan_core.gan.losses import AUTHORS_RELEASED, PAPER_TEXT, LossWeights
from exp2simgan_core.gan.networks import (
    DISCRIMINATORS,
    GENERATORS,
    DiscriminatorSettings,
    GeneratorSettings,
    PatchGanDiscriminator,
    PatchSampleMLP,
    ResnetGenerator,
    translate_full,
)
from exp2simgan_core.gan.train import GanSettings, TrainResult, train

__all__ = [
    "AUTHORS_RELEASED",
    "DISCRIMINATORS",
    "GENERATORS",
    "PAPER_TEXT",
    "DataScaling",
    "DiscriminatorSettings",
    "GanSettings",
    "GeneratorSettings",
    "LoadedGenerator",
    "LossWeights",
    "PatchGanDiscriminator",
    "PatchSampleMLP",
    "ResnetGenerator",
    "TrainResult",
    "load_generator",
    "train",
    "translate_full",
]
