"""The dual contrastive GAN (DCLGAN layout) that Exp2SimGAN trains.

Domains: "exp" = resolution-convolved, experiment-like spectra; "sim" = unconvolved simulations.
``exp2sim`` maps exp -> sim (the deconvolution), ``sim2exp`` the reverse. ``d_sim`` judges the sim
domain (the output of exp2sim), ``d_exp`` the exp domain. Each generator has its own PatchNCE head;
the NCE pairing is DCLGAN's cross-encoder one: for exp2sim the keys are exp2sim's encoding of the
real exp image and the queries sim2exp's encoding of the translated image (and symmetrically).
The keys are taken from the translation pass itself (``DualGan.translate``): the same generator
on the same input with the same weights, so encoding it again, as CUT and DCLGAN do, would
recompute the same features (keys carry no gradient).

Auxiliary domain class (channel 1 of each discriminator): the discriminator of domain X is trained
to output 1 on real images of X and 0 on real images of the other domain; with
``LossWeights.aux_in_generator`` the generator into X is also trained to make it output 1 on fakes.
Images are (B, 1, *crop) float tensors in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from exp2simgan_core.gan.losses import (
    ADVERSARIAL_LOSSES,
    LowPassFidelity,
    auxiliary_loss,
    identity_loss,
    patch_nce_loss,
    real_fake_scores,
)
from exp2simgan_core.gan.networks import DISCRIMINATORS, GENERATORS, PatchSampleMLP, ResnetGenerator
from exp2simgan_core.gan.settings import DiscriminatorSettings, GeneratorSettings, LossWeights

GENERATOR_LOSS_TERMS = ("g_gan", "g_nce", "g_idt", "g_cyc", "g_lowpass", "g_aux", "g_total")
DISCRIMINATOR_LOSS_TERMS = ("d_gan", "d_aux", "d_total")


@dataclass(frozen=True)
class Translations:
    """A batch through both generators, and each generator's features of its input at
    ``DualGan.nce_layers`` from the same pass (the PatchNCE keys)."""

    fake_sim: torch.Tensor  # exp2sim(real_exp)
    fake_exp: torch.Tensor  # sim2exp(real_sim)
    keys_exp: list[torch.Tensor]  # exp2sim's encoding of real_exp
    keys_sim: list[torch.Tensor]  # sim2exp's encoding of real_sim


class DualGan(nn.Module):
    """Two generators, two discriminators and two PatchNCE heads, built from typed settings."""

    def __init__(
        self,
        *,
        generator: GeneratorSettings,
        discriminator: DiscriminatorSettings,
        generator_name: str = "resnet",
        discriminator_name: str = "patchgan",
        nce_layers: tuple[int, ...] = (4, 8, 12, 16),
        mlp_dim: int = 256,
    ) -> None:
        super().__init__()
        if generator_name not in GENERATORS:
            raise ValueError(f"unknown generator {generator_name!r}; known: {sorted(GENERATORS)}")
        if discriminator_name not in DISCRIMINATORS:
            raise ValueError(
                f"unknown discriminator {discriminator_name!r}; known: {sorted(DISCRIMINATORS)}"
            )
        self.nce_layers = nce_layers
        self.g_exp2sim = GENERATORS[generator_name](generator)
        self.g_sim2exp = GENERATORS[generator_name](generator)
        self.d_sim = DISCRIMINATORS[discriminator_name](discriminator)
        self.d_exp = DISCRIMINATORS[discriminator_name](discriminator)
        if nce_layers and nce_layers[-1] >= self.g_exp2sim.n_encoder_layers:
            raise ValueError(
                f"nce_layers {nce_layers} reach past the encoder (layers 0.."
                f"{self.g_exp2sim.n_encoder_layers - 1} with n_blocks={generator.n_blocks})"
            )
        channels = tuple(self.g_exp2sim.layer_channels(i) for i in nce_layers)
        self.head_exp2sim = PatchSampleMLP(channels, mlp_dim)
        self.head_sim2exp = PatchSampleMLP(channels, mlp_dim)

    def generators(self) -> list[nn.Module]:
        return [self.g_exp2sim, self.g_sim2exp]

    def discriminators(self) -> list[nn.Module]:
        return [self.d_sim, self.d_exp]

    def heads(self) -> list[nn.Module]:
        return [self.head_exp2sim, self.head_sim2exp]

    def translate(self, real_exp: torch.Tensor, real_sim: torch.Tensor) -> Translations:
        """Both translations, with the PatchNCE keys from the same passes."""
        fake_sim, keys_exp = self.g_exp2sim.forward_and_encode(real_exp, self.nce_layers)
        fake_exp, keys_sim = self.g_sim2exp.forward_and_encode(real_sim, self.nce_layers)
        return Translations(fake_sim, fake_exp, keys_exp, keys_sim)

    def _nce(
        self,
        keys: list[torch.Tensor],
        key_head: PatchSampleMLP,
        query_gen: ResnetGenerator,
        query_head: PatchSampleMLP,
        fake: torch.Tensor,
        num_patches: int,
        temperature: float,
    ) -> torch.Tensor:
        """Mean over ``nce_layers`` of PatchNCE(query_gen(fake), keys), shared patches."""
        feat_k, ids = key_head([k.detach() for k in keys], num_patches)  # no gradient, as in CUT
        feat_q, _ = query_head(query_gen.encode(fake, self.nce_layers), num_patches, ids)
        losses = [
            patch_nce_loss(q, k, fake.shape[0], temperature)
            for q, k in zip(feat_q, feat_k, strict=True)
        ]
        return torch.stack(losses).mean()

    def generator_loss(
        self,
        real_exp: torch.Tensor,
        real_sim: torch.Tensor,
        translations: Translations,
        *,
        weights: LossWeights,
        gan_mode: str,
        num_patches: int,
        temperature: float,
        lowpass: LowPassFidelity | None = None,
    ) -> dict[str, torch.Tensor]:
        """Generator objective, each term the mean of both directions; keys GENERATOR_LOSS_TERMS.

        ``lowpass`` is needed when ``weights.lowpass`` > 0 (ValueError otherwise).
        """
        adversarial = ADVERSARIAL_LOSSES[gan_mode]
        fake_sim, fake_exp = translations.fake_sim, translations.fake_exp
        out_sim, out_exp = self.d_sim(fake_sim), self.d_exp(fake_exp)
        gan = 0.5 * (
            adversarial(real_fake_scores(out_sim), True, False)
            + adversarial(real_fake_scores(out_exp), True, False)
        )
        aux = 0.5 * (auxiliary_loss(out_sim, True) + auxiliary_loss(out_exp, True))
        nce_1 = self._nce(
            translations.keys_exp, self.head_exp2sim, self.g_sim2exp, self.head_sim2exp,
            fake_sim, num_patches, temperature,
        )  # fmt: skip
        nce_2 = self._nce(
            translations.keys_sim, self.head_sim2exp, self.g_exp2sim, self.head_exp2sim,
            fake_exp, num_patches, temperature,
        )  # fmt: skip
        nce = 0.5 * (nce_1 + nce_2)
        with torch.set_grad_enabled(torch.is_grad_enabled() and weights.idt > 0):
            # weight 0: logged only, so no graph (the demo's weights are the same either way)
            idt = 0.5 * (
                identity_loss(self.g_exp2sim(real_sim), real_sim)
                + identity_loss(self.g_sim2exp(real_exp), real_exp)
            )
        total = weights.gan * gan + weights.nce * nce + weights.idt * idt
        cyc = torch.zeros((), device=real_exp.device)
        if weights.cycle > 0:
            cyc = 0.5 * (
                identity_loss(self.g_sim2exp(fake_sim), real_exp)
                + identity_loss(self.g_exp2sim(fake_exp), real_sim)
            )
            total = total + weights.cycle * cyc
        if weights.aux_in_generator:
            total = total + weights.aux * aux
        low = torch.zeros((), device=real_exp.device)
        if weights.lowpass > 0:
            if lowpass is None:
                raise ValueError("weights.lowpass > 0 needs a LowPassFidelity")
            low = 0.5 * (
                lowpass(fake_sim, real_exp, "exp2sim") + lowpass(fake_exp, real_sim, "sim2exp")
            )
            total = total + weights.lowpass * low
        return {
            "g_gan": gan, "g_nce": nce, "g_idt": idt, "g_cyc": cyc, "g_lowpass": low, "g_aux": aux,
            "g_total": total,
        }  # fmt: skip

    def discriminator_loss(
        self,
        real_exp: torch.Tensor,
        real_sim: torch.Tensor,
        fake_exp: torch.Tensor,
        fake_sim: torch.Tensor,
        *,
        weights: LossWeights,
        gan_mode: str,
    ) -> dict[str, torch.Tensor]:
        """Discriminator objective (fakes detached).

        Summed over d_sim and d_exp, as DCLGAN's separate backward passes; each is
        0.5 (real + fake). Keys: DISCRIMINATOR_LOSS_TERMS.
        """
        adversarial = ADVERSARIAL_LOSSES[gan_mode]
        gan_terms, aux_terms = [], []
        for disc, real, fake, other in (
            (self.d_sim, real_sim, fake_sim, real_exp),
            (self.d_exp, real_exp, fake_exp, real_sim),
        ):
            out_real = disc(real)
            out_fake = disc(fake.detach())
            gan_terms.append(
                0.5
                * (
                    adversarial(real_fake_scores(out_real), True, True)
                    + adversarial(real_fake_scores(out_fake), False, True)
                )
            )
            aux_terms.append(
                0.5 * (auxiliary_loss(out_real, True) + auxiliary_loss(disc(other), False))
            )
        gan = gan_terms[0] + gan_terms[1]  # a sum: each network gets the gradient of its own term
        aux = aux_terms[0] + aux_terms[1]
        return {"d_gan": gan, "d_aux": aux, "d_total": gan + weights.aux * aux}
