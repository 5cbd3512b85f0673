"""Closed-form tests of exp2simgan_core.gan.losses."""

import math

import pytest
import torch
import torch.nn.functional as F

from exp2simgan_core.gan.losses import (
    ADVERSARIAL_LOSSES,
    NCE_DIAGONAL_FILL,
    LowPassFidelity,
    auxiliary_loss,
    gaussian_lowpass,
    hinge_loss,
    identity_loss,
    lsgan_loss,
    patch_nce_loss,
)
from exp2simgan_core.gan.settings import (
    AUTHORS_RELEASED,
    LOSS_WEIGHT_PRESETS,
    PAPER_TEXT,
    LossWeights,
)

TOL = 1e-5


def test_lsgan_of_perfect_predictions_is_zero():
    assert lsgan_loss(torch.ones(2, 5, 5), True, True).item() == 0.0
    assert lsgan_loss(torch.zeros(2, 5, 5), False, True).item() == 0.0
    assert lsgan_loss(torch.ones(3), True, False).item() == 0.0


def test_lsgan_is_mean_square_error_to_the_label():
    scores = torch.tensor([0.0, 0.5, 2.0])
    assert lsgan_loss(scores, True, False).item() == pytest.approx((1 + 0.25 + 1) / 3, abs=TOL)
    assert lsgan_loss(scores, False, True).item() == pytest.approx((0 + 0.25 + 4) / 3, abs=TOL)


def test_hinge_closed_form():
    scores = torch.tensor([-2.0, 0.0, 2.0])
    assert hinge_loss(scores, True, True).item() == pytest.approx((3 + 1 + 0) / 3, abs=TOL)
    assert hinge_loss(scores, False, True).item() == pytest.approx((0 + 1 + 3) / 3, abs=TOL)
    assert hinge_loss(scores, True, False).item() == pytest.approx(0.0, abs=TOL)
    with pytest.raises(ValueError, match="real targets"):
        hinge_loss(scores, False, False)


def test_registry_entries_are_finite_on_random_scores():
    scores = torch.randn(2, 6, 6)
    for loss in ADVERSARIAL_LOSSES.values():
        for real in (True, False):
            assert torch.isfinite(loss(scores, real, True))
    assert set(ADVERSARIAL_LOSSES) == {"lsgan", "hinge"}


def test_patch_nce_of_identical_orthonormal_features():
    """q = k = n orthonormal vectors: logits [1, 0 x (n - 1), -10] / T for every query."""
    n, t = 8, 0.07
    feats = torch.eye(16, dtype=torch.float64)[:n]  # float64: the loss is about 4e-6
    expected = -math.log(
        math.exp(1 / t) / (math.exp(1 / t) + (n - 1) + math.exp(NCE_DIAGONAL_FILL / t))
    )
    assert patch_nce_loss(feats, feats.clone(), batch_size=1, temperature=t).item() == (
        pytest.approx(expected, rel=1e-5)
    )


def test_patch_nce_of_identical_constant_features_is_log_of_class_count():
    """All features equal: every logit 1 / T except the masked one, so loss = log(n) (n classes)."""
    n, t = 16, 0.07
    feats = F.normalize(torch.ones(2 * n, 4), dim=1)
    expected = -math.log(math.exp(1 / t) / (n * math.exp(1 / t) + math.exp(NCE_DIAGONAL_FILL / t)))
    got = patch_nce_loss(feats, feats, batch_size=2, temperature=t).item()
    assert got == pytest.approx(expected, rel=1e-5)
    assert got == pytest.approx(math.log(n), rel=1e-4)


def test_patch_nce_negatives_stay_within_each_image():
    """Two images with identical patches across images: cross-image pairs are not negatives."""
    n = 4
    one_image = torch.eye(8)[:n]
    both = torch.cat([one_image, one_image])
    single = patch_nce_loss(one_image, one_image, batch_size=1).item()
    assert patch_nce_loss(both, both, batch_size=2).item() == pytest.approx(single, rel=1e-6)


def test_patch_nce_key_gets_no_gradient():
    q = F.normalize(torch.randn(8, 4), dim=1).requires_grad_(True)
    k = F.normalize(torch.randn(8, 4), dim=1).requires_grad_(True)
    patch_nce_loss(q, k, batch_size=1).backward()
    assert q.grad is not None and k.grad is None


def test_patch_nce_is_float32_under_bf16_autocast():
    generator = torch.Generator().manual_seed(0)
    q, k = (F.normalize(torch.randn(2 * 64, 32, generator=generator), dim=1) for _ in range(2))
    k = F.normalize(q + 0.1 * k, dim=1)  # similarities near 1, where bfloat16 rounds most
    exact = patch_nce_loss(q, k, batch_size=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = patch_nce_loss(q.bfloat16(), k.bfloat16(), batch_size=2)
        autocast = patch_nce_loss(q, k, batch_size=2)
    assert autocast.dtype == mixed.dtype == torch.float32
    assert autocast.item() == pytest.approx(exact.item(), rel=1e-6)
    assert mixed.item() == pytest.approx(exact.item(), rel=1e-2)  # bf16 inputs, float32 sums


def test_patch_nce_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        patch_nce_loss(torch.zeros(4, 3), torch.zeros(4, 2), batch_size=1)
    with pytest.raises(ValueError, match="batches of 3"):
        patch_nce_loss(torch.zeros(4, 3), torch.zeros(4, 3), batch_size=3)


def test_identity_and_auxiliary_closed_form():
    a, b = torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 0.5)
    assert identity_loss(a, b).item() == pytest.approx(0.5, abs=TOL)
    d_out = torch.stack([torch.zeros(3, 3), torch.ones(3, 3)])[None]  # (1, 2, 3, 3)
    assert auxiliary_loss(d_out, True).item() == 0.0
    assert auxiliary_loss(d_out, False).item() == pytest.approx(1.0, abs=TOL)


def test_weight_presets():
    assert (PAPER_TEXT.gan, PAPER_TEXT.nce, PAPER_TEXT.idt, PAPER_TEXT.aux) == (1, 4, 2, 1)
    assert PAPER_TEXT.aux_in_generator
    assert (AUTHORS_RELEASED.gan, AUTHORS_RELEASED.nce, AUTHORS_RELEASED.idt) == (1, 2, 1)
    assert not AUTHORS_RELEASED.aux_in_generator
    assert LossWeights() == PAPER_TEXT
    assert set(LOSS_WEIGHT_PRESETS.values()) == {PAPER_TEXT, AUTHORS_RELEASED}


@pytest.mark.parametrize("shape", [(2, 1, 20), (2, 3, 20, 24), (1, 1, 14, 15, 16)])
def test_gaussian_lowpass_keeps_constants_and_the_total_of_a_peak(shape):
    """Reflect padding keeps a constant image; a unit kernel keeps an interior peak's weight
    and spreads it by sigma along every axis."""
    constant = torch.full(shape, 0.3)
    torch.testing.assert_close(gaussian_lowpass(constant, 1.5), constant)
    peak = torch.zeros(shape)
    centre = tuple(n // 2 for n in shape[2:])
    peak[(..., *centre)] = 1.0
    out = gaussian_lowpass(peak, 1.5)
    assert out.shape == peak.shape
    torch.testing.assert_close(out.sum(), peak.sum())
    line = out[(0, 0, *centre[:-1])]  # along the last axis through the peak
    x = torch.arange(shape[-1], dtype=torch.float32) - centre[-1]
    variance = float((line * x**2).sum() / line.sum())
    assert math.sqrt(variance) == pytest.approx(1.5, rel=0.05)


def test_gaussian_lowpass_rejects_a_kernel_wider_than_the_image():
    with pytest.raises(ValueError, match="sigma"):
        gaussian_lowpass(torch.zeros(1, 1, 8, 8), 0.0)
    with pytest.raises(ValueError, match="needs every axis > 6"):
        gaussian_lowpass(torch.zeros(1, 1, 6, 30), 2.0)


def test_low_pass_fidelity_compares_in_one_intensity_unit():
    """A translation that keeps its input's intensities costs nothing once both are in one unit;
    moving intensity further than sigma costs, detail finer than sigma costs little."""
    ratio = 0.5  # convolved_max / unconvolved_max
    fidelity = LowPassFidelity(sigma=2.0, convolved_per_unconvolved=ratio)
    torch.manual_seed(0)
    intensity = torch.rand(2, 1, 32, 32)  # in units of unconvolved_max / 2
    as_sim = intensity - 1.0  # scaled by unconvolved_max
    as_exp = intensity / ratio - 1.0  # the same intensities scaled by convolved_max
    assert fidelity(as_sim, as_exp, "exp2sim").item() == pytest.approx(0.0, abs=1e-6)
    assert fidelity(as_exp, as_sim, "sim2exp").item() == pytest.approx(0.0, abs=1e-6)
    shifted = torch.roll(as_sim, 16, dims=-1)  # intensity moved by 16 pixels
    checkerboard = as_sim + 0.2 * (-1.0) ** (torch.arange(32)[:, None] + torch.arange(32))
    moved = fidelity(shifted, as_exp, "exp2sim").item()
    assert moved > 0.05
    assert fidelity(checkerboard, as_exp, "exp2sim").item() < 0.05 * moved
    with pytest.raises(ValueError, match="direction"):
        fidelity(as_sim, as_exp, "sideways")


def test_low_pass_fidelity_is_float32_under_bf16_autocast():
    fidelity = LowPassFidelity(sigma=1.0, convolved_per_unconvolved=1.0)
    x = torch.rand(1, 1, 12, 12, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert fidelity(x, x * 0.5, "exp2sim").dtype == torch.float32
