"""Tests of exp2simgan_core.gan.layers and .networks: shapes, parameter counts, layer numbering."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from exp2simgan_core.gan.layers import (
    Downsample,
    ResnetBlock,
    Upsample,
)
from exp2simgan_core.gan.losses import patch_nce_loss
from exp2simgan_core.gan.networks import (
    DISCRIMINATORS,
    GENERATORS,
    PatchGanDiscriminator,
    PatchSampleMLP,
    ResnetGenerator,
    count_parameters,
    translate_full,
)
from exp2simgan_core.gan.settings import (
    DiscriminatorSettings,
    GanSettings,
    GeneratorSettings,
    patchgan_output_size,
)
from exp2simgan_core.gan.state import build_training

PAPER_GENERATOR_PARAMETERS = 11_365_633  # the authors' network, one channel in and out
PAPER_DISCRIMINATOR_PARAMETERS = 2_770_882
TINY = GeneratorSettings(ngf=8, n_blocks=2)


def test_paper_generator_has_the_authors_parameter_count():
    assert count_parameters(ResnetGenerator(GeneratorSettings())) == PAPER_GENERATOR_PARAMETERS


def test_paper_dual_gan_has_about_29_2_million_parameters():
    """Two generators, two discriminators and two PatchNCE heads on DCLGAN's layers 4, 8, 12, 16
    (channels 128, 256, 256, 256; each head Linear(C, 256) + Linear(256, 256) per layer)."""
    settings = GanSettings()
    assert settings.nce_layers == (4, 8, 12, 16)
    model = build_training(settings, torch.device("cpu"))[0]
    heads = 2 * ((128 + 1) * 256 + 257 * 256 + 3 * ((256 + 1) * 256 + 257 * 256))
    expected = 2 * PAPER_GENERATOR_PARAMETERS + 2 * PAPER_DISCRIMINATOR_PARAMETERS + heads
    assert count_parameters(model) == expected == 29_260_166


def test_paper_discriminator_has_the_authors_parameter_count():
    d = PatchGanDiscriminator(DiscriminatorSettings())
    assert count_parameters(d) == PAPER_DISCRIMINATOR_PARAMETERS


def test_registries_build_every_entry_in_2d_and_3d():
    for dims in (2, 3):
        for cls in GENERATORS.values():
            assert isinstance(cls(GeneratorSettings(dims=dims, ngf=4, n_blocks=1)), nn.Module)
        for cls in DISCRIMINATORS.values():
            assert isinstance(cls(DiscriminatorSettings(dims=dims, ndf=4)), nn.Module)


def test_3d_generator_uses_3d_layers_and_has_more_parameters():
    g3 = ResnetGenerator(GeneratorSettings(dims=3, ngf=4, n_blocks=1))
    assert any(isinstance(m, nn.Conv3d) for m in g3.modules())
    assert not any(isinstance(m, nn.Conv2d) for m in g3.modules())
    g2 = ResnetGenerator(GeneratorSettings(dims=2, ngf=4, n_blocks=1))
    assert count_parameters(g3) > count_parameters(g2)


@pytest.mark.parametrize(
    ("dims", "shape"), [(2, (1, 1, 40, 64)), (3, (1, 1, 16, 16, 16))], ids=["2d", "3d"]
)
def test_tiny_generator_keeps_multiples_of_4_in_tanh_range(dims, shape):
    torch.manual_seed(0)
    g = ResnetGenerator(GeneratorSettings(dims=dims, ngf=8, n_blocks=2))
    y = g(torch.randn(shape))
    assert y.shape == shape
    assert y.abs().max().item() <= 1.0


@pytest.mark.parametrize("dims", [2, 3])
def test_residual_generator_starts_near_the_identity_and_stays_in_range(dims):
    torch.manual_seed(0)
    settings = GeneratorSettings(dims=dims, ngf=8, n_blocks=2, residual=True)
    g = ResnetGenerator(settings)
    plain = ResnetGenerator(GeneratorSettings(dims=dims, ngf=8, n_blocks=2))
    assert count_parameters(g) == count_parameters(plain)
    x = torch.rand((2, 1) + (16,) * dims) * 1.8 - 0.9
    y = g(x)
    assert y.abs().max().item() <= 1.0
    assert (y - x).abs().mean().item() < 0.05  # Xavier gain 0.02: a small initial correction
    assert (plain(x) - x).abs().mean().item() > 0.3  # the plain one starts near 0, not at x
    x.requires_grad_(True)
    g(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_residual_generator_clamps_its_sum():
    g = ResnetGenerator(GeneratorSettings(ngf=4, n_blocks=1, residual=True))
    last_conv = [m for m in g.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    torch.nn.init.zeros_(last_conv.weight)
    torch.nn.init.constant_(last_conv.bias, 1.0)  # net(x) = tanh(1): the sum would be 1.76
    y = g(torch.full((1, 1, 8, 8), 1.0))
    assert torch.equal(y, torch.ones_like(y))


def test_residual_generator_needs_as_many_channels_out_as_in():
    with pytest.raises(ValueError, match="input_nc == output_nc"):
        ResnetGenerator(GeneratorSettings(ngf=4, n_blocks=1, output_nc=2, residual=True))


def test_generator_rounds_other_sizes_up_to_multiples_of_4():
    g = ResnetGenerator(TINY)
    assert g(torch.randn(1, 1, 41, 63)).shape == (1, 1, 44, 64)


@pytest.mark.parametrize(
    "shape", [(2, 1, 5, 41), (1, 1, 240, 37), (1, 1, 7, 9, 10)], ids=["2d-small", "2d", "3d"]
)
def test_translate_full_returns_any_input_size(shape):
    g = ResnetGenerator(GeneratorSettings(dims=len(shape) - 2, ngf=4, n_blocks=1))
    assert translate_full(g, torch.randn(shape)).shape == shape


def test_translate_full_equals_forward_on_multiples_of_4():
    torch.manual_seed(1)
    g = ResnetGenerator(TINY).eval()
    x = torch.randn(1, 1, 16, 24)
    with torch.no_grad():
        expected = g(x)
    torch.testing.assert_close(translate_full(g, x), expected, rtol=0, atol=1e-6)


def test_translate_full_rejects_wrong_rank_and_tiny_axes():
    g = ResnetGenerator(TINY)
    with pytest.raises(ValueError, match="rank 4"):
        translate_full(g, torch.randn(1, 16, 16))
    with pytest.raises(ValueError, match="at least 5 bins"):
        translate_full(g, torch.randn(1, 1, 4, 16))


def test_encoder_layer_numbering_matches_cut():
    g = ResnetGenerator(GeneratorSettings(ngf=4, n_blocks=5))
    assert isinstance(g.model[0], nn.ReflectionPad2d)
    assert isinstance(g.model[4], nn.Conv2d) and isinstance(g.model[8], nn.Conv2d)
    assert isinstance(g.model[7], Downsample) and isinstance(g.model[11], Downsample)
    assert isinstance(g.model[12], ResnetBlock) and isinstance(g.model[16], ResnetBlock)
    assert isinstance(g.model[17], Upsample)
    feats = g.encode(torch.randn(1, 1, 32, 32), (0, 4, 8, 12, 16))
    assert [tuple(f.shape) for f in feats] == [
        (1, 1, 38, 38),  # reflect-padded input
        (1, 8, 32, 32),  # first down conv, before its norm
        (1, 16, 16, 16),  # second down conv
        (1, 16, 8, 8),  # residual block 1
        (1, 16, 8, 8),  # residual block 5
    ]
    assert [g.layer_channels(i) for i in (0, 4, 8, 12, 16)] == [f.shape[1] for f in feats]


@pytest.mark.parametrize("residual", [False, True])
def test_forward_and_encode_is_forward_and_encode_in_one_pass(residual):
    torch.manual_seed(0)
    g = ResnetGenerator(GeneratorSettings(ngf=4, n_blocks=5, residual=residual))
    x = torch.rand(2, 1, 24, 32) * 2 - 1
    layers = (0, 4, 8, 12, 16)
    with torch.no_grad():
        out, feats = g.forward_and_encode(x, layers)
        assert torch.equal(out, g(x))
        expected = g.encode(x, layers)
    assert len(feats) == len(layers)
    assert all(torch.equal(f, e) for f, e in zip(feats, expected, strict=True))


@pytest.mark.parametrize("layer", [2, 5, 9])
def test_encode_rejects_layers_a_relu_overwrites_in_place(layer):
    """The norms before the in-place ReLUs: their output would be the ReLU's, silently."""
    g = ResnetGenerator(GeneratorSettings(ngf=4, n_blocks=5))
    for method in (g.encode, g.forward_and_encode):
        with pytest.raises(ValueError, match=rf"layers \[{layer}\] are overwritten .* in-place"):
            method(torch.randn(1, 1, 16, 16), (layer, 16))


def test_encode_rejects_layers_past_the_encoder():
    g = ResnetGenerator(GeneratorSettings(ngf=4, n_blocks=2))
    with pytest.raises(ValueError, match="outside 0..13"):
        g.encode(torch.randn(1, 1, 16, 16), (0, 4, 16))


def test_discriminator_two_channels_and_patch_size():
    d = PatchGanDiscriminator(DiscriminatorSettings(ndf=4))
    for n in (24, 32, 64):
        out = d(torch.randn(1, 1, n, n))
        p = patchgan_output_size(n, 3)
        assert out.shape == (1, 2, p, p)
    assert patchgan_output_size(256, 3) == 30
    assert patchgan_output_size(20, 3) == 0


def test_downsample_and_upsample_have_no_parameters_and_keep_constants():
    x = torch.full((1, 3, 8, 8), 2.5)
    down, up = Downsample(2), Upsample(2)
    assert count_parameters(down) == 0 and count_parameters(up) == 0
    torch.testing.assert_close(down(x), torch.full((1, 3, 4, 4), 2.5))
    torch.testing.assert_close(up(x), torch.full((1, 3, 16, 16), 2.5))


def test_patch_sample_mlp_shares_ids_and_normalises():
    torch.manual_seed(0)
    head = PatchSampleMLP((1, 8), mlp_dim=16)
    feats = [torch.randn(2, 1, 10, 10), torch.randn(2, 8, 4, 4)]
    out, ids = head(feats, num_patches=32)
    assert [tuple(o.shape) for o in out] == [(64, 16), (32, 16)]  # min(32, 16) patches at 4 x 4
    torch.testing.assert_close(out[0].norm(dim=1), torch.ones(64))
    again, ids_again = head(feats, num_patches=32, patch_ids=ids)
    assert all(torch.equal(a, b) for a, b in zip(ids, ids_again, strict=True))
    torch.testing.assert_close(again[1], out[1])


def test_patch_heads_stay_float32_under_float16_autocast():
    """Small projections make the normalisation's gradient large (1 / |projection|): computed in
    float16 the heads' weight gradients overflow. The heads run in float32 instead."""
    torch.manual_seed(0)
    head = PatchSampleMLP((8,), mlp_dim=16)
    with torch.no_grad():
        head.mlps[0][2].weight.mul_(1e-5)  # projections of about 1e-5
    feats = [torch.randn(2, 8, 6, 6)]
    grads = {}
    for dtype in (torch.float32, torch.float16):
        head.zero_grad()
        torch.manual_seed(1)  # the same patches
        with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32):
            (q,), ids = head(feats, num_patches=16)
            (k,), _ = head([f.roll(1, dims=-1) for f in feats], num_patches=16, patch_ids=ids)
            assert q.dtype == torch.float32
            loss = patch_nce_loss(q, k, batch_size=2)
        loss.backward()
        grads[dtype] = torch.cat([p.grad.flatten() for p in head.parameters()])
    assert torch.isfinite(grads[torch.float16]).all()
    torch.testing.assert_close(grads[torch.float16], grads[torch.float32])


def cut_blur(x: torch.Tensor, taps: tuple[float, ...]) -> torch.Tensor:
    """CUT's depthwise binomial filter of ``taps`` for every channel of x (float64)."""
    dims = x.ndim - 2
    one = torch.tensor(taps, dtype=torch.float64)
    filt = one
    for _ in range(dims - 1):
        filt = filt.unsqueeze(-1) * one
    return (filt / filt.sum()).expand(x.shape[1], 1, *filt.shape)


def cut_downsample(x: torch.Tensor) -> torch.Tensor:
    """CUT's Downsample: reflect pad 1, depthwise [1, 2, 1] blur at stride 2."""
    dims = x.ndim - 2
    padded = F.pad(x, (1, 1) * dims, mode="reflect")
    conv_fn = F.conv2d if dims == 2 else F.conv3d
    return conv_fn(padded, cut_blur(x, (1, 2, 1)), stride=2, groups=x.shape[1])


def cut_upsample(x: torch.Tensor) -> torch.Tensor:
    """CUT's Upsample: replicate pad 1, transposed [1, 3, 3, 1] x 2^dims blur, stride 2, crop 1."""
    dims = x.ndim - 2
    padded = F.pad(x, (1, 1) * dims, mode="replicate")
    conv_t = F.conv_transpose2d if dims == 2 else F.conv_transpose3d
    filt = cut_blur(x, (1, 3, 3, 1)) * 2**dims
    out = conv_t(padded, filt, stride=2, padding=2, groups=x.shape[1])
    return out[(slice(None), slice(None)) + (slice(1, -1),) * dims]


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("spatial", [(8, 12, 6), (7, 5, 9)])
def test_sampling_layers_compute_cuts_depthwise_blurs(dims, spatial):
    torch.manual_seed(0)
    x = torch.randn((2, 3) + spatial[:dims], dtype=torch.float64, requires_grad=True)
    for layer, reference in ((Downsample(dims), cut_downsample), (Upsample(dims), cut_upsample)):
        out, expected = layer(x), reference(x)
        assert out.shape == expected.shape
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
        weights = torch.randn_like(expected)
        (grad,) = torch.autograd.grad((out * weights).sum(), x)
        (grad_expected,) = torch.autograd.grad((expected * weights).sum(), x)
        torch.testing.assert_close(grad, grad_expected, rtol=0, atol=1e-12)
