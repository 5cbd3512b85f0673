"""Tests of exp2simgan_core.gan.model: how DualGan combines its loss terms (tiny networks)."""

import dataclasses

import pytest
import torch

from exp2simgan_core.gan.losses import LowPassFidelity
from exp2simgan_core.gan.model import DualGan
from exp2simgan_core.gan.settings import (
    AUTHORS_RELEASED,
    PAPER_TEXT,
    DiscriminatorSettings,
    GeneratorSettings,
)


@pytest.fixture(scope="module")
def model_and_crops():
    torch.manual_seed(0)
    model = DualGan(
        generator=GeneratorSettings(ngf=4, n_blocks=1),
        discriminator=DiscriminatorSettings(ndf=4),
        nce_layers=(0, 4, 8, 12),
        mlp_dim=8,
    )
    real_exp, real_sim = torch.rand(2, 1, 1, 24, 24) * 2 - 1
    with torch.no_grad():
        return model, real_exp, real_sim, model.translate(real_exp, real_sim)


LOWPASS = LowPassFidelity(sigma=1.5, convolved_per_unconvolved=0.7)


def _generator_terms(model_and_crops, weights):
    model, real_exp, real_sim, translations = model_and_crops
    torch.manual_seed(1)  # the same patch positions for every call
    with torch.no_grad():
        return model.generator_loss(
            real_exp, real_sim, translations,
            weights=weights, gan_mode="lsgan", num_patches=8, temperature=0.07, lowpass=LOWPASS,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("weights", "total"),
    [
        (PAPER_TEXT, lambda t: t["g_gan"] + 4 * t["g_nce"] + 2 * t["g_idt"] + t["g_aux"]),
        (AUTHORS_RELEASED, lambda t: t["g_gan"] + 2 * t["g_nce"] + t["g_idt"]),
        (
            dataclasses.replace(PAPER_TEXT, cycle=3.0),
            lambda t: t["g_gan"] + 4 * t["g_nce"] + 2 * t["g_idt"] + t["g_aux"] + 3 * t["g_cyc"],
        ),
        (
            dataclasses.replace(PAPER_TEXT, idt=0.0),
            lambda t: t["g_gan"] + 4 * t["g_nce"] + t["g_aux"],
        ),
        (
            dataclasses.replace(PAPER_TEXT, idt=0.0, lowpass=10.0),
            lambda t: t["g_gan"] + 4 * t["g_nce"] + t["g_aux"] + 10 * t["g_lowpass"],
        ),
    ],
    ids=["paper_text", "authors_released", "paper_text+cycle", "paper_text-identity", "demo"],
)
def test_generator_total_is_the_weighted_sum_of_its_terms(model_and_crops, weights, total):
    terms = _generator_terms(model_and_crops, weights)
    assert all(float(terms[k]) > 0 for k in ("g_gan", "g_nce", "g_idt", "g_aux"))
    assert (float(terms["g_cyc"]) > 0) == (weights.cycle > 0)
    assert (float(terms["g_lowpass"]) > 0) == (weights.lowpass > 0)
    torch.testing.assert_close(terms["g_total"], total(terms))


def test_a_weighted_low_pass_term_needs_its_settings(model_and_crops):
    model, real_exp, real_sim, translations = model_and_crops
    with pytest.raises(ValueError, match="LowPassFidelity"):
        model.generator_loss(
            real_exp, real_sim, translations,
            weights=dataclasses.replace(PAPER_TEXT, lowpass=1.0), gan_mode="lsgan",
            num_patches=8, temperature=0.07,
        )  # fmt: skip


@pytest.mark.parametrize(("idt", "graph"), [(0.0, False), (2.0, True)])
def test_the_identity_term_takes_gradient_only_when_weighted(model_and_crops, idt, graph):
    """Weight 0 (the demo) logs the term but builds no graph for it, so nothing backpropagates."""
    model, real_exp, real_sim, translations = model_and_crops
    terms = model.generator_loss(
        real_exp, real_sim, translations,
        weights=dataclasses.replace(PAPER_TEXT, idt=idt), gan_mode="lsgan", num_patches=8,
        temperature=0.07,
    )  # fmt: skip
    assert float(terms["g_idt"].detach()) > 0
    assert terms["g_idt"].requires_grad is graph
    assert terms["g_total"].requires_grad


def test_discriminator_total_adds_the_weighted_auxiliary_term(model_and_crops):
    model, real_exp, real_sim, translations = model_and_crops
    weights = dataclasses.replace(AUTHORS_RELEASED, aux=0.5)
    with torch.no_grad():
        terms = model.discriminator_loss(
            real_exp, real_sim, translations.fake_exp, translations.fake_sim,
            weights=weights, gan_mode="lsgan",
        )  # fmt: skip
    assert float(terms["d_aux"]) > 0
    torch.testing.assert_close(terms["d_total"], terms["d_gan"] + 0.5 * terms["d_aux"])


def test_translate_takes_the_keys_from_the_translation_pass(model_and_crops):
    """Each generator's translation of its real input and its encoding of that input (the keys)
    are what forward and encode give, bit for bit."""
    model, real_exp, real_sim, translations = model_and_crops
    with torch.no_grad():
        for generator, real, fake, keys in (
            (model.g_exp2sim, real_exp, translations.fake_sim, translations.keys_exp),
            (model.g_sim2exp, real_sim, translations.fake_exp, translations.keys_sim),
        ):
            assert torch.equal(fake, generator(real))
            expected = generator.encode(real, model.nce_layers)
            assert len(keys) == len(model.nce_layers)
            assert all(torch.equal(k, e) for k, e in zip(keys, expected, strict=True))


def test_patch_nce_queries_the_translation_with_the_other_generators_encoder(
    model_and_crops, monkeypatch
):
    """DCLGAN's cross-encoder pairing: keys from the generator that read the real input (its
    translation pass), queries from the opposite generator reading its translation."""
    model, real_exp, real_sim, translations = model_and_crops
    encoded = []
    for name in ("g_exp2sim", "g_sim2exp"):
        encode = getattr(model, name).encode

        def spy_encode(x, layers, name=name, encode=encode):
            encoded.append((name, x))
            return encode(x, layers)

        monkeypatch.setattr(getattr(model, name), "encode", spy_encode)
    headed = []
    for name in ("head_exp2sim", "head_sim2exp"):
        head = getattr(model, name)
        forward = head.forward

        def spy_head(feats, num_patches, patch_ids=None, name=name, forward=forward):
            headed.append((name, feats, patch_ids is None))
            return forward(feats, num_patches, patch_ids)

        monkeypatch.setattr(head, "forward", spy_head)
    _generator_terms(model_and_crops, PAPER_TEXT)
    assert [name for name, _ in encoded] == ["g_sim2exp", "g_exp2sim"]
    assert encoded[0][1] is translations.fake_sim and encoded[1][1] is translations.fake_exp
    keys = [(name, feats) for name, feats, sampled in headed if sampled]
    assert [name for name, _ in keys] == ["head_exp2sim", "head_sim2exp"]
    for (_, feats), want in zip(keys, (translations.keys_exp, translations.keys_sim), strict=True):
        assert all(torch.equal(f, w) for f, w in zip(feats, want, strict=True))
    queries = [name for name, _, sampled in headed if not sampled]
    assert queries == ["head_sim2exp", "head_exp2sim"]
