"""Exp2SimGAN networks: ResNet generator, two-channel PatchGAN discriminator, PatchNCE MLP heads.

All networks are dimension-generic (``dims`` = 2 for spectra laid out as rows = Ei x H and
columns = energy bin x K (``physics.layout``), 3 for (H, K, E) volumes) and follow CUT/DCLGAN
with anti-aliasing on. Tensors are (batch, channels, *spatial), float32, intensities scaled to
[-1, 1] (see ``exp2simgan_core.gan.checkpoint.DataScaling``).

Encoder layer numbering (``ResnetGenerator.encode``) is the index into ``ResnetGenerator.model``, an
``nn.Sequential`` laid out exactly as CUT's::

    0 ReflectionPad(3)          4 Conv3 ngf->2ngf        8 Conv3 2ngf->4ngf      12 ResnetBlock 1
    1 Conv7 in->ngf             5 InstanceNorm           9 InstanceNorm          13 ResnetBlock 2
    2 InstanceNorm              6 ReLU                  10 ReLU                  ...
    3 ReLU                      7 Downsample            11 Downsample            16 ResnetBlock 5

followed by the remaining blocks, two (Upsample, Conv3, InstanceNorm, ReLU) stages,
ReflectionPad(3), Conv7 ngf->out and Tanh. The feature of layer i is the output of
``model[i]``; the paper (DCLGAN) uses (4, 8, 12, 16).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from exp2simgan_core.gan.layers import (
    Downsample,
    ResnetBlock,
    Upsample,
    check_dims,
    conv,
    init_xavier,
    instance_norm,
    reflection_pad,
)
from exp2simgan_core.gan.settings import (
    N_DOWNSAMPLING,
    SIZE_MULTIPLE,
    DiscriminatorSettings,
    GeneratorSettings,
)
from exp2simgan_core.util import evaluating

MIN_FULL_SIZE = 5  # smallest axis translate_full accepts: padded to 8, 2 bins at the bottleneck


class ResnetGenerator(nn.Module):
    """CUT/DCLGAN ResNet generator with anti-aliased sampling and tanh output.

    forward: (B, input_nc, *S) -> (B, output_nc, *S) in [-1, 1] when every size in S is a
    multiple of 4; other sizes give ``4 * ceil(S / 4)`` (each down-sampling rounds up); use
    ``translate_full`` for spectra of arbitrary size. Paper settings with one channel:
    11,365,633 parameters.

    ``settings.residual`` (not in the paper; same parameters) adds the input to the network's
    tanh output and clamps the sum to [-1, 1], so the generator learns a correction of its input
    and starts close to the identity (Xavier gain 0.02). Without it, the sparse 1-pixel features
    of small spectra are lost through the 4x down-sampling early in training: on the demo
    preset, even a generator trained *with* the pairs on MSE stays below the PSNR of its input
    (``benchmarks/deconvolution_bound.py``). Needs input_nc == output_nc.
    """

    def __init__(self, settings: GeneratorSettings) -> None:
        super().__init__()
        dims = check_dims(settings.dims)
        if settings.residual and settings.input_nc != settings.output_nc:
            raise ValueError(
                f"a residual generator needs input_nc == output_nc, got {settings.input_nc} "
                f"and {settings.output_nc}"
            )
        ngf = settings.ngf
        self.settings = settings
        layers: list[nn.Module] = [
            reflection_pad(dims, 3),
            conv(dims, settings.input_nc, ngf, 7, 0),
            instance_norm(dims, ngf),
            nn.ReLU(True),
        ]
        for i in range(N_DOWNSAMPLING):
            c = ngf * 2**i
            layers += [
                conv(dims, c, 2 * c, 3, 1),
                instance_norm(dims, 2 * c),
                nn.ReLU(True),
                Downsample(dims),
            ]
        layers += [ResnetBlock(dims, ngf * 2**N_DOWNSAMPLING) for _ in range(settings.n_blocks)]
        for i in range(N_DOWNSAMPLING):
            c = ngf * 2 ** (N_DOWNSAMPLING - i)
            layers += [
                Upsample(dims),
                conv(dims, c, c // 2, 3, 1),
                instance_norm(dims, c // 2),
                nn.ReLU(True),
            ]
        layers += [reflection_pad(dims, 3), conv(dims, ngf, settings.output_nc, 7, 0), nn.Tanh()]
        self.model = nn.Sequential(*layers)
        init_xavier(self)

    @property
    def n_encoder_layers(self) -> int:
        """Number of valid encoder layer indices: stem, down-sampling and residual blocks."""
        return self.settings.n_encoder_layers

    def layer_channels(self, layer: int) -> int:
        """Channels of the feature returned by ``encode`` for ``layer``."""
        if layer == 0:
            return self.settings.input_nc
        if layer < 4:
            return self.settings.ngf
        if layer < 4 + 4 * N_DOWNSAMPLING:
            return self.settings.ngf * 2 ** ((layer - 4) // 4 + 1)
        return self.settings.ngf * 2**N_DOWNSAMPLING

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._output(x, self.model(x))

    def encode(self, x: torch.Tensor, layers: tuple[int, ...]) -> list[torch.Tensor]:
        """Features after ``model[i]`` for each i in ``layers`` (ascending), shape (B, C_i, *S_i).

        Runs the network only as deep as the last of ``layers``. Raises ValueError if a layer is
        outside the encoder (0 .. n_encoder_layers - 1) or is overwritten by the in-place ReLU
        after it.
        """
        return self._run(x, layers, stop=True)[1]

    def forward_and_encode(
        self, x: torch.Tensor, layers: tuple[int, ...]
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``forward(x)`` and ``encode(x, layers)`` from one pass (the features are the pass's).

        The training step takes its PatchNCE keys from its translation pass this way instead of
        encoding the same input again with the same weights.
        """
        y, feats = self._run(x, layers, stop=False)
        return self._output(x, y), feats

    def _output(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.settings.residual:
            return (x + y).clamp(-1.0, 1.0)
        return y

    def _run(
        self, x: torch.Tensor, layers: tuple[int, ...], *, stop: bool
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``model`` applied to x (up to the last of ``layers`` if ``stop``) and its features."""
        if list(layers) != sorted(set(layers)) or not layers:
            raise ValueError(f"encoder layers must be distinct and ascending, got {layers}")
        if layers[0] < 0 or layers[-1] >= self.n_encoder_layers:
            raise ValueError(
                f"encoder layers {layers} outside 0..{self.n_encoder_layers - 1} for a generator "
                f"with {self.settings.n_blocks} residual blocks"
            )
        overwritten = [i for i in layers if getattr(self.model[i + 1], "inplace", False)]
        if overwritten:
            raise ValueError(
                f"encoder layers {overwritten} are overwritten by the in-place ReLU after them; "
                "take the ReLU's output (the next layer) instead"
            )
        feats = []
        for i, layer in enumerate(self.model):
            x = layer(x)
            if i in layers:
                feats.append(x)
            if stop and i == layers[-1]:
                break
        return x, feats


class PatchGanDiscriminator(nn.Module):
    """Anti-aliased PatchGAN: (B, input_nc, *S) -> (B, 2, *P) with P = patchgan_output_size(S).

    Output channel 0 is the real/fake score, channel 1 the auxiliary domain class score (both raw,
    no sigmoid; the losses are least-squares or hinge). Paper settings: 2,770,882 parameters.
    """

    def __init__(self, settings: DiscriminatorSettings) -> None:
        super().__init__()
        dims = check_dims(settings.dims)
        ndf = settings.ndf
        self.settings = settings
        layers: list[nn.Module] = [
            conv(dims, settings.input_nc, ndf, 4, 1),
            nn.LeakyReLU(0.2, True),
            Downsample(dims),
        ]
        mult = 1
        for n in range(1, settings.n_layers):
            prev, mult = mult, min(2**n, 8)
            layers += [
                conv(dims, ndf * prev, ndf * mult, 4, 1),
                instance_norm(dims, ndf * mult),
                nn.LeakyReLU(0.2, True),
                Downsample(dims),
            ]
        prev, mult = mult, min(2**settings.n_layers, 8)
        layers += [
            conv(dims, ndf * prev, ndf * mult, 4, 1),
            instance_norm(dims, ndf * mult),
            nn.LeakyReLU(0.2, True),
            conv(dims, ndf * mult, settings.output_nc, 4, 1),
        ]
        self.model = nn.Sequential(*layers)
        init_xavier(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchSampleMLP(nn.Module):
    """PatchNCE projection heads: an MLP (Linear, ReLU, Linear; ``mlp_dim`` wide) per encoder layer.

    ``forward`` samples the same patch locations for every image of the batch, projects the
    features and L2-normalises them: list of (B, C_i, *S_i) -> list of (B * n_i, mlp_dim) with
    n_i = min(num_patches, prod(S_i)), plus the sampled flat location ids (to reuse for the keys).
    The heads run in float32 even under autocast: small projections make the normalisation's
    gradient large (it scales as 1 / |projection|), and in float16 it overflowed on the demo
    networks' first batch (``benchmarks/low_precision_terms.py``). They are a small share of the
    step.
    """

    def __init__(self, in_channels: tuple[int, ...], mlp_dim: int = 256) -> None:
        super().__init__()
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(c, mlp_dim), nn.ReLU(), nn.Linear(mlp_dim, mlp_dim))
            for c in in_channels
        )
        init_xavier(self)

    def forward(
        self,
        feats: list[torch.Tensor],
        num_patches: int,
        patch_ids: list[torch.Tensor] | None = None,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        if len(feats) != len(self.mlps):
            raise ValueError(f"got {len(feats)} feature maps for {len(self.mlps)} MLP heads")
        out, ids = [], []
        for k, (feat, mlp) in enumerate(zip(feats, self.mlps, strict=True)):
            flat = feat.flatten(2).transpose(1, 2)  # (B, prod(S), C)
            if patch_ids is None:
                perm = torch.randperm(flat.shape[1])  # global CPU RNG: seeded, checkpointed
                pid = perm[: min(num_patches, flat.shape[1])]
                if feat.device.type == "cuda":  # from pinned memory: no wait for queued work
                    pid = pid.pin_memory().to(feat.device, non_blocking=True)
            else:
                pid = patch_ids[k]
            sample = flat[:, pid, :].flatten(0, 1)  # (B * n, C)
            with torch.autocast(sample.device.type, enabled=False):  # see the class docstring
                out.append(F.normalize(mlp(sample.float()), p=2, dim=1, eps=1e-7))
            ids.append(pid)
        return out, ids


GENERATORS: dict[str, type[ResnetGenerator]] = {"resnet": ResnetGenerator}
DISCRIMINATORS: dict[str, type[PatchGanDiscriminator]] = {"patchgan": PatchGanDiscriminator}


def count_parameters(module: nn.Module) -> int:
    """Number of trainable and frozen parameters (buffers excluded)."""
    return sum(p.numel() for p in module.parameters())


def pad_to_multiple(x: torch.Tensor) -> torch.Tensor:
    """(B, C, *S) padded reflectively at the high end of each spatial axis to a multiple of 4.

    The generator maps only such sizes onto themselves; every axis needs >= 4 bins.
    """
    flat_pad: list[int] = []
    for s in reversed(x.shape[2:]):  # F.pad lists the last axis first
        flat_pad += [0, (-s) % SIZE_MULTIPLE]
    return F.pad(x, flat_pad, mode="reflect")  # pad <= 3 < size: a single reflection suffices


def translate_full(generator: ResnetGenerator, x: torch.Tensor) -> torch.Tensor:
    """Translate whole spectra of any size: (B, C, *S) -> (B, output_nc, *S), no gradient.

    The generator is fully convolutional but maps only multiples of 4 onto themselves, so each
    spatial axis is padded reflectively at its high end up to the next multiple of 4 and the output
    is cropped back to S. Inputs are scaled to [-1, 1] and NaN-free (fill masked bins first).
    Raises ValueError on a rank mismatch or an axis shorter than ``MIN_FULL_SIZE`` bins.
    """
    dims = generator.settings.dims
    if x.ndim != dims + 2:
        raise ValueError(
            f"expected a (batch, channel) + {dims}-D spatial tensor of rank {dims + 2} for a "
            f"{dims}D generator, got shape {tuple(x.shape)}"
        )
    sizes = x.shape[2:]
    if min(sizes) < MIN_FULL_SIZE:
        raise ValueError(
            f"every spatial axis needs at least {MIN_FULL_SIZE} bins (the residual blocks pad the "
            f"1/4-resolution map reflectively), got shape {tuple(sizes)}"
        )
    padded = pad_to_multiple(x)
    with evaluating(generator), torch.no_grad():
        out = generator(padded)
    return out[(slice(None), slice(None)) + tuple(slice(0, s) for s in sizes)]
