"""Dimension-generic building blocks shared by the 2D and 3D networks.

Every block takes ``dims`` (2 or 3) and picks ``Conv2d``/``Conv3d``, ``InstanceNorm2d``/``3d``,
``ReflectionPad2d``/``3d`` from the tables below, so one code path builds both. Tensors are
channels-first: shape (batch, channels, *spatial) with ``len(spatial) == dims``; for 2D INS
spectra the spatial axes are (rows: Ei x H, columns: energy bin x K; ``physics.layout``), for 3D
(H, K, E) bins; no unit is attached to a bin.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CONV: dict[int, type[nn.Module]] = {2: nn.Conv2d, 3: nn.Conv3d}
INSTANCE_NORM: dict[int, type[nn.Module]] = {2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}
REFLECTION_PAD: dict[int, type[nn.Module]] = {2: nn.ReflectionPad2d, 3: nn.ReflectionPad3d}
AVG_POOL = {2: F.avg_pool2d, 3: F.avg_pool3d}
LINEAR_MODE = {2: "bilinear", 3: "trilinear"}

XAVIER_GAIN = 0.02


def check_dims(dims: int) -> int:
    """Return ``dims`` if it is 2 or 3, else raise ValueError."""
    if dims not in CONV:
        raise ValueError(f"dims must be 2 or 3 (spectrum rank without channels), got {dims!r}")
    return dims


def conv(
    dims: int, c_in: int, c_out: int, kernel: int, padding: int, bias: bool = True
) -> nn.Module:
    """Stride-1 convolution of the given rank; weights are set later by ``init_xavier``."""
    return CONV[dims](c_in, c_out, kernel_size=kernel, stride=1, padding=padding, bias=bias)


def instance_norm(dims: int, channels: int) -> nn.Module:
    """Instance norm without affine parameters or running statistics (as in CUT)."""
    return INSTANCE_NORM[dims](channels, affine=False, track_running_stats=False)


def reflection_pad(dims: int, width: int) -> nn.Module:
    """Reflective padding of ``width`` bins on both sides of every spatial axis."""
    return REFLECTION_PAD[dims](width)


class Downsample(nn.Module):
    """Anti-aliased down-sampling by 2 (CUT's, Zhang 2019): reflect pad 1, blur with the binomial
    filter [1, 2, 1]^dims / 4^dims, keep every 2nd bin.

    Shape (B, C, *S) -> (B, C, *ceil(S / 2)). No parameters. The blur is computed as two box
    averages, [1, 1] / 2 at stride 1 then at stride 2 ([1, 1] * [1, 1] = [1, 2, 1]): the same values
    as CUT's depthwise strided convolution, to rounding (tests/test_gan_networks.py), from pooling,
    which ``torch.compile`` generates and fuses itself instead of calling cuDNN for a depthwise
    convolution.
    """

    def __init__(self, dims: int) -> None:
        super().__init__()
        self.dims = check_dims(dims)
        self.pad = reflection_pad(dims, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = AVG_POOL[self.dims]
        return pool(pool(self.pad(x), 2, stride=1), 2, stride=2)


class Upsample(nn.Module):
    """Anti-aliased up-sampling by 2 (CUT's): the transposed blur with [1, 3, 3, 1]^dims / 4^dims
    of the edge-replicated input, cropped to twice its size.

    Shape (B, C, *S) -> (B, C, *(2 S)). No parameters. Each output bin is 3/4 of its nearer and
    1/4 of its farther input neighbour along each axis, the edge bin repeated: that is linear
    interpolation at half-bin centres (``align_corners=False``), which computes it: the same
    values as CUT's depthwise transposed convolution, to rounding, and no replication padding
    (whose backward PyTorch 2.14 cannot compile).
    """

    def __init__(self, dims: int) -> None:
        super().__init__()
        self.dims = check_dims(dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode=LINEAR_MODE[self.dims], align_corners=False)


class ResnetBlock(nn.Module):
    """Residual block: x + (pad, conv3, norm, ReLU, pad, conv3, norm)(x). Shape preserved."""

    def __init__(self, dims: int, channels: int) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(
            reflection_pad(dims, 1),
            conv(dims, channels, channels, 3, 0),
            instance_norm(dims, channels),
            nn.ReLU(True),
            reflection_pad(dims, 1),
            conv(dims, channels, channels, 3, 0),
            instance_norm(dims, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def init_xavier(module: nn.Module, gain: float = XAVIER_GAIN) -> None:
    """Xavier-normal weights (gain 0.02), zero biases for every conv and linear layer (as CUT)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Conv3d | nn.Linear):
            nn.init.xavier_normal_(m.weight, gain=gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
