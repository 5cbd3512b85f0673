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
REPLICATION_PAD: dict[int, type[nn.Module]] = {2: nn.ReplicationPad2d, 3: nn.ReplicationPad3d}

# Binomial blur filters of CUT's anti-aliasing (Zhang 2019): 3 taps for down-, 4 for up-sampling.
DOWNSAMPLE_TAPS = (1.0, 2.0, 1.0)
UPSAMPLE_TAPS = (1.0, 3.0, 3.0, 1.0)
XAVIER_GAIN = 0.02


def check_dims(dims: int) -> int:
    """Return ``dims`` if it is 2 or 3, else raise ValueError."""
    if dims not in CONV:
        raise ValueError(f"dims must be 2 or 3 (spectrum rank without channels), got {dims!r}")
    return dims


def _blur_filter(taps: tuple[float, ...], dims: int) -> torch.Tensor:
    """Separable binomial filter, normalised to sum 1; shape (len(taps),) * dims."""
    one = torch.tensor(taps, dtype=torch.float32)
    filt = one
    for _ in range(dims - 1):
        filt = filt.unsqueeze(-1) * one
    return filt / filt.sum()


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
    """Anti-aliased down-sampling by 2: reflect pad 1, blur with [1, 2, 1]^dims, keep every 2nd bin.

    Shape (B, C, *S) -> (B, C, *ceil(S / 2)). No parameters (the filter is a non-persistent buffer).
    """

    def __init__(self, dims: int, channels: int) -> None:
        super().__init__()
        self.dims = check_dims(dims)
        self.channels = channels
        filt = _blur_filter(DOWNSAMPLE_TAPS, dims)
        self.register_buffer(
            "filt", filt.expand(channels, 1, *filt.shape).clone(), persistent=False
        )
        self.pad = reflection_pad(dims, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv_fn = F.conv2d if self.dims == 2 else F.conv3d
        return conv_fn(self.pad(x), self.filt, stride=2, groups=x.shape[1])


class Upsample(nn.Module):
    """Anti-aliased up-sampling by 2: replicate pad 1, transposed blur, [1, 3, 3, 1]^dims * 2^dims.

    Shape (B, C, *S) -> (B, C, *(2 S)). No parameters. Same arithmetic as CUT's ``Upsample``.
    """

    def __init__(self, dims: int, channels: int) -> None:
        super().__init__()
        self.dims = check_dims(dims)
        filt = _blur_filter(UPSAMPLE_TAPS, dims) * 2**dims
        self.register_buffer(
            "filt", filt.expand(channels, 1, *filt.shape).clone(), persistent=False
        )
        self.pad = REPLICATION_PAD[dims](1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv_t = F.conv_transpose2d if self.dims == 2 else F.conv_transpose3d
        pad_size = (len(UPSAMPLE_TAPS) - 1) // 2
        padded = replicate_edges(x) if torch.compiler.is_compiling() else self.pad(x)
        out = conv_t(padded, self.filt, stride=2, padding=1 + pad_size, groups=x.shape[1])
        crop = (slice(None), slice(None)) + (
            slice(1, -1),
        ) * self.dims  # even filter: drop 1 each end
        return out[crop]


def replicate_edges(x: torch.Tensor) -> torch.Tensor:
    """Replication padding by one bin on both sides of every spatial axis, built from slices.

    Same values as ``nn.ReplicationPad2d(1)`` / ``3d(1)``. Used only under ``torch.compile``:
    PyTorch 2.14's fake kernel of ``replication_pad2d_backward`` gives the wrong strides, so
    compiling the native padding fails; eager runs keep the native kernel (and its gradient
    summation order, hence their results).
    """
    for axis in range(2, x.ndim):
        first, last = x.narrow(axis, 0, 1), x.narrow(axis, x.shape[axis] - 1, 1)
        x = torch.cat((first, x, last), dim=axis)
    return x


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
