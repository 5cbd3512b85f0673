"""Exp2SimGAN loss terms: adversarial (LSGAN or hinge), PatchNCE, identity and cycle L1,
auxiliary MSE, low-pass fidelity.

Discriminator outputs are (B, 2, *P) score maps (``PatchGanDiscriminator``): channel 0 is the
real/fake score used by the adversarial loss, channel 1 the auxiliary domain-class score. All losses
return a 0-d float tensor, averaged over every element they see.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from exp2simgan_core.vocabulary import direction as get_direction

REAL_FAKE_CHANNEL = 0
AUX_CHANNEL = 1
NCE_TEMPERATURE = 0.07  # the paper's T
NCE_DIAGONAL_FILL = -10.0  # CUT's value for the masked self-similarity among the negatives


def lsgan_loss(scores: torch.Tensor, target_is_real: bool, for_discriminator: bool) -> torch.Tensor:
    """Least-squares GAN: mean (s - 1)^2 for real targets, mean s^2 for fake; same for G and D.

    ``scores``: real/fake score map of any shape. ``for_discriminator`` is unused (symmetric loss).
    """
    del for_discriminator
    target = torch.ones_like(scores) if target_is_real else torch.zeros_like(scores)
    return F.mse_loss(scores, target)


def hinge_loss(scores: torch.Tensor, target_is_real: bool, for_discriminator: bool) -> torch.Tensor:
    """Hinge GAN: D minimises mean relu(1 - s) on real and mean relu(1 + s) on fake; G, -mean s.

    The generator is always called with ``target_is_real=True``; anything else raises ValueError.
    """
    if not for_discriminator:
        if not target_is_real:
            raise ValueError("the hinge generator loss is defined for real targets only")
        return -scores.mean()
    if target_is_real:
        return F.relu(1.0 - scores).mean()
    return F.relu(1.0 + scores).mean()


AdversarialLoss = Callable[[torch.Tensor, bool, bool], torch.Tensor]
ADVERSARIAL_LOSSES: dict[str, AdversarialLoss] = {"lsgan": lsgan_loss, "hinge": hinge_loss}


def real_fake_scores(d_out: torch.Tensor) -> torch.Tensor:
    """Channel 0 of a discriminator output (B, 2, *P) -> (B, *P)."""
    return d_out[:, REAL_FAKE_CHANNEL]


def auxiliary_loss(d_out: torch.Tensor, is_domain: bool) -> torch.Tensor:
    """MSE of the auxiliary channel (B, 2, *P)[:, 1] against 1 (``is_domain``) or 0."""
    aux = d_out[:, AUX_CHANNEL]
    target = torch.ones_like(aux) if is_domain else torch.zeros_like(aux)
    return F.mse_loss(aux, target)


def identity_loss(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference (L1) between a generator's output and its input-domain image."""
    return F.l1_loss(output, target)


def patch_nce_loss(
    feat_q: torch.Tensor,
    feat_k: torch.Tensor,
    batch_size: int,
    temperature: float = NCE_TEMPERATURE,
) -> torch.Tensor:
    """PatchNCE (InfoNCE over patches), as in CUT with negatives from the same image.

    feat_q, feat_k: (batch_size * n, D) L2-normalised query and key projections, patch i of the
    query paired with patch i of the key (same sampled location). For each query the positive is
    its key and the negatives are the other n - 1 keys of the same image; the self-similarity in
    the negative block is masked to -10. Loss: mean over queries of cross-entropy of
    [q.k+, q.k-_1, ..., q.k-_n] / T with class 0. Keys are detached (no gradient), as in CUT.
    Computed in float32 even under autocast: in bfloat16 a similarity near 1 is rounded by up to
    2^-8, which the temperature turns into logit errors of about 0.06. Under autocast the
    projection heads run in float32 as well, but the features they project come from the
    generators' low-precision layers, with that rounding already in them;
    ``benchmarks/low_precision_terms.py`` measures the logits' departure from float32 and finds
    that similarities in the low precision would add little to it.
    """
    if feat_q.shape != feat_k.shape or feat_q.ndim != 2:
        raise ValueError(f"query and key must both be (N, D); got {feat_q.shape}, {feat_k.shape}")
    if feat_q.shape[0] % batch_size:
        raise ValueError(f"{feat_q.shape[0]} patches do not split into batches of {batch_size}")
    dtype = torch.promote_types(feat_q.dtype, torch.float32)  # float32 at least
    with torch.autocast(feat_q.device.type, enabled=False):
        return _patch_nce(feat_q.to(dtype), feat_k.detach().to(dtype), batch_size, temperature)


def patch_nce_similarities(
    feat_q: torch.Tensor, feat_k: torch.Tensor, batch_size: int
) -> torch.Tensor:
    """(N, 1 + n) similarities of each query with its positive key (first) and the n keys of its
    image (the self-similarity among them masked to ``NCE_DIAGONAL_FILL``), in the inputs' dtype;
    ``patch_nce_loss``'s logits are these over the temperature."""
    n_total, dim = feat_q.shape
    l_pos = (feat_q * feat_k).sum(dim=1, keepdim=True)  # (N, 1)
    q = feat_q.view(batch_size, -1, dim)  # (B, n, D)
    k = feat_k.view(batch_size, -1, dim)
    n = q.shape[1]
    l_neg = torch.bmm(q, k.transpose(2, 1))  # (B, n, n)
    eye = torch.eye(n, device=feat_q.device, dtype=torch.bool)[None]
    l_neg = l_neg.masked_fill(eye, NCE_DIAGONAL_FILL).view(n_total, n)
    return torch.cat((l_pos, l_neg), dim=1)


def _patch_nce(
    feat_q: torch.Tensor, feat_k: torch.Tensor, batch_size: int, temperature: float
) -> torch.Tensor:
    logits = patch_nce_similarities(feat_q, feat_k, batch_size) / temperature  # (N, 1 + n)
    target = torch.zeros(feat_q.shape[0], dtype=torch.long, device=feat_q.device)
    return F.cross_entropy(logits, target)


def gaussian_lowpass(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (B, C, *S) along every spatial axis; ``sigma`` in pixels.

    Separable kernel truncated at 3 sigma, normalised to sum 1, reflect padding (so a constant
    image is unchanged). Raises ValueError if sigma <= 0 or the kernel radius reaches an axis'
    length.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    radius = max(1, math.ceil(3 * sigma))
    spatial = x.shape[2:]
    if min(spatial) <= radius:
        raise ValueError(f"a low-pass of sigma {sigma} needs every axis > {radius}, got {spatial}")
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels, dims = x.shape[1], len(spatial)
    conv = (F.conv1d, F.conv2d, F.conv3d)[dims - 1]
    x = F.pad(x, (radius,) * (2 * dims), mode="reflect")
    for axis in reversed(range(dims)):
        shape = [1] * dims
        shape[axis] = -1
        x = conv(x, kernel.view(1, 1, *shape).expand(channels, 1, *shape), groups=channels)
    return x


@dataclass(frozen=True)
class LowPassFidelity:
    """L1 distance between the Gaussian low-pass of a translation and that of its input.

    Resolution broadening moves intensity over about its own width; the term asks a generator not
    to move it further, leaving the adversarial and PatchNCE terms the scales below ``sigma``
    (pixels), as frequency separation does for unpaired super-resolution (Fritsche, Gu and
    Timofte, ICCVW 2019). Both images are compared in one intensity unit: each generator's input
    and output are scaled to [-1, 1] by their own domain's maximum (``DataScaling``), so
    ``convolved_per_unconvolved`` (convolved_max / unconvolved_max) converts between them. The
    loss is in the output domain's scaled units.
    """

    sigma: float
    convolved_per_unconvolved: float

    def __call__(self, output: torch.Tensor, source: torch.Tensor, direction: str) -> torch.Tensor:
        """``output`` = generator(``source``), both (B, 1, *S) in [-1, 1]; ``direction`` is
        "exp2sim" (source convolved) or "sim2exp". Computed in float32 even under autocast."""
        reads = get_direction(direction).source  # ValueError for another name
        dtype = torch.promote_types(output.dtype, torch.float32)
        with torch.autocast(output.device.type, enabled=False):
            out = gaussian_lowpass(output.to(dtype), self.sigma) + 1.0
            src = gaussian_lowpass(source.to(dtype), self.sigma) + 1.0
            ratio = self.convolved_per_unconvolved
            src = src * ratio if reads == "convolved" else src / ratio
            return (out - src).abs().mean()
