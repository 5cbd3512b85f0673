"""Where does bfloat16 or float16 autocast depart from float32 in the GAN's loss terms and their
gradients?

    python benchmarks/low_precision_terms.py [--precision bf16|fp16] [--loss-scale S]
                                             [--preset demo] [--crop 48] [--batch 4]
                                             [--inputs spectra|uniform] [--seed 0] [--threads 1]

Settings: ``--preset NAME`` is config/NAME.yaml laid over config/config.yaml with the schema's
defaults filled in, as ``exp2simgan plan`` reads a preset (``paper``: config/config.yaml
alone), turned into ``GanSettings`` by ``gan_settings``; ``--crop`` (default: the preset's) and
``--batch`` replace its crop and batch size. The networks come from ``TrainingState.fresh``
(the training's weight stream of the config's seed), untrained: the figures describe the first
steps of a run.

One fixed batch (``--seed``) of each domain, raw non-negative intensities scaled to [-1, 1] by
``data_scaling`` as training scales its patches. ``--inputs spectra``: per image three sharp
dispersion-like curves (a row position oscillating along the columns, Gaussian across rows with
a width of half a bin, random amplitude) on an empty background for the unconvolved domain; three
other such curves blurred by ``gaussian_lowpass`` (sigma 1.5 bins) plus a faint uniform background
(up to 0.2 % of the batch's brightest pixel) for the convolved domain, so most scaled pixels lie
near -1, as in the demo's data. ``--inputs uniform``: uniform noise, as ``train_gan.py`` times with.

The step is evaluated twice at the same weights, in float32 and under CPU autocast to the
``--precision``'s type (the "low" pass), as
``train.train_step`` runs it, with the training's own functions: the translation pass
(``DualGan.translate``), ``DualGan.discriminator_loss`` with the discriminators trainable, then
``DualGan.generator_loss`` with them frozen, each under ``train._autocast`` of the settings with
``precision`` set. No optimiser step runs between the two halves (training updates the
discriminators first), so both precisions see the same weights; the PatchNCE patch locations
are the same in both (the torch RNG is reseeded before ``generator_loss``). Besides the terms the
step logs (``GENERATOR_LOSS_TERMS``, ``DISCRIMINATOR_LOSS_TERMS``), each ``patch_nce_loss`` call
inside ``generator_loss`` is recorded (per direction and encoder layer; the function the model
module calls is wrapped, and the first len(nce_layers) calls are exp2sim's, checked against
g_nce) and the low-pass fidelity per direction (a recording wrapper passed as ``lowpass``).

Printed: each term's value in both precisions and relative difference; each term's gradient
alone (``torch.autograd.grad``, both graphs kept, so no shared ``.grad``) with respect to the
networks it trains (generator terms: both generators and PatchNCE heads; discriminator terms:
both discriminators), per network the cosine and relative norm difference of the low pass's
gradient against the float32 one; the PatchNCE logits (recomputed from the recorded features as
``losses._patch_nce`` does, checked against its loss): largest difference and how many rows'
argmax changes, also as they would be with the similarities in the low type; the translations, the
discriminators' scores on the real crops and every instance norm's input statistics and output
(first call of each layer: the translation pass, the discriminator on its real crop). Last,
one verdict per term: it departs when its relative difference exceeds 1e-2 or a gradient's
cosine is below 0.99 or its norm differs by more than 1e-2.

The low pass's gradients are those of the term times a loss scale, divided by it, as
``torch.amp.GradScaler`` computes them in fp16 training. ``--loss-scale`` defaults to 1 for bf16
(training does not scale it) and for fp16 to the largest power of two up to 2^16 (the scaler's
start) at which the gradients of g_total and d_total are finite: where training's dynamic scale
settles after it has skipped the steps that overflow. Gradients without a scale show what
float16's narrow range does: small ones flush to zero.

On one thread of a 2-core CPU: about 5 s at the demo's size (48 x 48 crops, batch 4), 20 s with
``--preset paper --crop 64 --batch 1`` (2.5 GB).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

from exp2simgan_core.config import run_config
from exp2simgan_core.gan import model as model_module
from exp2simgan_core.gan.checkpoint import DataScaling
from exp2simgan_core.gan.losses import (
    LowPassFidelity,
    gaussian_lowpass,
    patch_nce_similarities,
)
from exp2simgan_core.gan.model import DISCRIMINATOR_LOSS_TERMS, GENERATOR_LOSS_TERMS, DualGan
from exp2simgan_core.gan.networks import count_parameters
from exp2simgan_core.gan.settings import GanSettings
from exp2simgan_core.gan.state import TrainingState
from exp2simgan_core.gan.train import (
    AUTOCAST_DTYPES,
    _autocast,
    data_scaling,
    low_pass_fidelity,
)
from exp2simgan_core.vocabulary import DIRECTIONS

CONFIG = Path(__file__).parents[1] / "config"
NOT_PRESETS = ("config", "schema")  # config/*.yaml that are not presets laid over config.yaml
PATCH_SEED = 1234  # the torch RNG before generator_loss: PatchNCE locations, same in both passes
N_CURVES = 3
LINE_WIDTH = 0.5  # bins: Gaussian width of an unconvolved curve across rows
BROADENING = 1.5  # bins: sigma of the convolved domain's blur
BACKGROUND = 2e-3  # convolved background: uniform, up to this fraction of the brightest pixel
VALUE_TOL = 1e-2  # relative difference of a term, and of a gradient's norm
COSINE_MIN = 0.99
G_NETS = ("g_exp2sim", "g_sim2exp", "head_exp2sim", "head_sim2exp")
D_NETS = ("d_sim", "d_exp")
WEIGHT_OF = {  # LossWeights field of each logged term; None: not weighted (a sum or total)
    "g_gan": "gan", "g_nce": "nce", "g_idt": "idt", "g_cyc": "cycle", "g_lowpass": "lowpass",
    "g_aux": "aux", "g_total": None, "d_gan": None, "d_aux": "aux", "d_total": None,
}  # fmt: skip


def presets() -> list[str]:
    return ["paper", *sorted(p.stem for p in CONFIG.glob("*.yaml") if p.stem not in NOT_PRESETS)]


def preset_settings(preset: str, crop: int | None, batch: int) -> GanSettings:
    """The preset's 2D GAN settings as the workflow reads them, at ``crop`` and ``batch``, fp32."""
    config = run_config(*([] if preset == "paper" else [CONFIG / f"{preset}.yaml"]))
    settings = GanSettings.from_config(config["gan"], config["seed"])
    settings = dataclasses.replace(
        settings, crop_size=crop or settings.crop_size, batch_size=batch, precision="fp32"
    )
    settings.validate()
    return settings


def curves(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 1, size, size) intensities >= 0: ``N_CURVES`` sharp dispersion-like curves per image."""
    rows = torch.arange(size, dtype=torch.float32)[:, None]
    cols = torch.arange(size, dtype=torch.float32)[None, :]
    base, depth, period, phase, amplitude = torch.rand(5, n, N_CURVES, 1, 1, generator=generator)
    wave = torch.cos(2 * math.pi * (cols / (size * (0.5 + period)) + phase))
    centre = size * (0.2 + 0.6 * base + 0.2 * depth * wave)  # (n, N_CURVES, 1, size)
    lines = (0.2 + amplitude) * torch.exp(-0.5 * ((rows - centre) / LINE_WIDTH) ** 2)
    return lines.sum(1, keepdim=True)


def fixed_batch(
    settings: GanSettings, inputs: str, seed: int
) -> tuple[torch.Tensor, torch.Tensor, DataScaling]:
    """(real_exp, real_sim) scaled to [-1, 1] and their scaling."""
    generator = torch.Generator().manual_seed(seed)
    n, size = settings.batch_size, settings.crop_size
    if settings.dims != 2:
        raise SystemExit(f"2D GAN settings only, got dims {settings.dims}")
    if inputs == "uniform":
        convolved, unconvolved = torch.rand(2, n, 1, size, size, generator=generator)
    else:
        unconvolved = curves(n, size, generator)
        blurred = gaussian_lowpass(curves(n, size, generator), BROADENING)
        noise = torch.rand(blurred.shape, generator=generator)
        convolved = blurred + BACKGROUND * blurred.amax() * noise
    scaling = data_scaling(convolved.numpy(), unconvolved.numpy())
    real_exp = scaling.scale(convolved, "convolved")
    real_sim = scaling.scale(unconvolved, "unconvolved")
    return real_exp, real_sim, scaling


@dataclasses.dataclass
class NceCall:
    """One ``patch_nce_loss`` call: its query and key features and its loss."""

    feat_q: torch.Tensor
    feat_k: torch.Tensor
    batch_size: int
    temperature: float
    loss: torch.Tensor


@contextmanager
def recording_nce() -> Iterator[list[NceCall]]:
    """Record every ``patch_nce_loss`` call that ``DualGan`` makes, in order."""
    calls: list[NceCall] = []
    real = model_module.patch_nce_loss

    def record(
        feat_q: torch.Tensor, feat_k: torch.Tensor, batch_size: int, temperature: float
    ) -> torch.Tensor:
        loss = real(feat_q, feat_k, batch_size, temperature)
        calls.append(NceCall(feat_q.detach(), feat_k.detach(), batch_size, temperature, loss))
        return loss

    with mock.patch.object(model_module, "patch_nce_loss", record):
        yield calls


@dataclasses.dataclass
class RecordingLowPass:
    """``LowPassFidelity`` that keeps each direction's term."""

    fidelity: LowPassFidelity
    terms: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)

    def __call__(self, output: torch.Tensor, source: torch.Tensor, direction: str) -> torch.Tensor:
        self.terms[direction] = self.fidelity(output, source, direction)
        return self.terms[direction]


@dataclasses.dataclass
class Captured:
    """A tensor of a pass (a float32 copy), its dtype, and the input it was computed from."""

    output: torch.Tensor
    dtype: torch.dtype
    inputs: torch.Tensor | None = None  # a norm layer's input (float32 copy)

    @classmethod
    def of(cls, output: torch.Tensor, inputs: torch.Tensor | None = None) -> Captured:
        """Copies: the in-place ReLU after a norm layer overwrites its output."""
        copy = functools.partial(torch.Tensor.to, dtype=torch.float32, copy=True)
        return cls(copy(output.detach()), output.dtype, None if inputs is None else copy(inputs))


@contextmanager
def capturing(model: DualGan) -> Iterator[dict[str, Captured]]:
    """First call of every instance norm and of each discriminator (forward hooks)."""
    store: dict[str, Captured] = {}

    def hook(name: str, module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        if name not in store:
            norm = isinstance(module, nn.modules.instancenorm._InstanceNorm)
            store[name] = Captured.of(output, args[0].detach() if norm else None)

    handles = [
        module.register_forward_hook(functools.partial(hook, name))
        for name, module in model.named_modules()
        if isinstance(module, nn.modules.instancenorm._InstanceNorm) or name in D_NETS
    ]
    try:
        yield store
    finally:
        for handle in handles:
            handle.remove()


@dataclasses.dataclass
class Pass:
    """One evaluation of the step at one precision; the terms keep their graphs."""

    precision: str
    terms: dict[str, torch.Tensor]
    nce: list[NceCall]
    captured: dict[str, Captured]  # translations, discriminator scores, norm layers


def evaluate(
    model: DualGan,
    settings: GanSettings,
    real_exp: torch.Tensor,
    real_sim: torch.Tensor,
    lowpass: LowPassFidelity | None,
    precision: str,
) -> Pass:
    """The step's terms at ``precision``, computed as ``train.train_step`` computes them."""
    autocast = functools.partial(
        _autocast, dataclasses.replace(settings, precision=precision), real_exp.device.type
    )
    recording = None if lowpass is None else RecordingLowPass(lowpass)
    with capturing(model) as captured:
        with autocast():
            translations = model.translate(real_exp, real_sim)
        for d in model.discriminators():
            d.requires_grad_(True)
        with autocast():
            d_losses = model.discriminator_loss(
                real_exp, real_sim, translations.fake_exp, translations.fake_sim,
                weights=settings.loss_weights, gan_mode=settings.gan_mode,
            )  # fmt: skip
        for d in model.discriminators():
            d.requires_grad_(False)
        torch.manual_seed(PATCH_SEED)
        with autocast(), recording_nce() as nce:
            g_losses = model.generator_loss(
                real_exp, real_sim, translations,
                weights=settings.loss_weights, gan_mode=settings.gan_mode,
                num_patches=settings.num_patches, temperature=settings.nce_t, lowpass=recording,
            )  # fmt: skip
        for d in model.discriminators():
            d.requires_grad_(True)
    losses = {**g_losses, **d_losses}
    terms = {k: losses[k] for k in (*GENERATOR_LOSS_TERMS, *DISCRIMINATOR_LOSS_TERMS)}
    names = nce_names(model)
    per_direction = [
        torch.stack([c.loss for c in nce[i : i + len(names) // 2]]).mean()
        for i in (0, len(names) // 2)
    ]
    if not torch.allclose(0.5 * (per_direction[0] + per_direction[1]), terms["g_nce"]):
        raise RuntimeError("the recorded PatchNCE calls do not make up g_nce")
    terms.update({f"g_nce {name}": call.loss for name, call in zip(names, nce, strict=True)})
    if recording is not None:
        terms.update({f"g_lowpass {k}": term for k, term in recording.terms.items()})
    captured["fake_sim (exp2sim output)"] = Captured.of(translations.fake_sim)
    captured["fake_exp (sim2exp output)"] = Captured.of(translations.fake_exp)
    return Pass(precision, terms, nce, captured)


def nce_names(model: DualGan) -> list[str]:
    """Direction and encoder layer of each ``patch_nce_loss`` call, in generator_loss's order."""
    return [f"{d} layer {layer}" for d in DIRECTIONS for layer in model.nce_layers]


def gradients(
    term: torch.Tensor, model: DualGan, names: tuple[str, ...], loss_scale: float = 1.0
) -> dict[str, torch.Tensor | None]:
    """Per network in ``names``: the term's gradient, flat float64 (None: no path to it), taken
    of ``loss_scale`` times the term and divided by it."""
    params = {name: list(getattr(model, name).parameters()) for name in names}
    flat = [p for ps in params.values() for p in ps]
    scaled = torch.autograd.grad(term * loss_scale, flat, retain_graph=True, allow_unused=True)
    grads = iter(None if g is None else g / loss_scale for g in scaled)
    out: dict[str, torch.Tensor | None] = {}
    for name, ps in params.items():
        gs = [next(grads) for _ in ps]
        flat_gs = [
            (torch.zeros_like(p) if g is None else g).flatten() for g, p in zip(gs, ps, strict=True)
        ]
        out[name] = None if all(g is None for g in gs) else torch.cat(flat_gs).double()
    return out


def relative(a: float, b: float) -> float:
    """|b - a| / |a| (|b - a| where a == 0)."""
    return abs(b - a) / abs(a) if a else abs(b - a)


def settled_loss_scale(model: DualGan, low: Pass) -> float:
    """The largest power of two up to 2^16 at which the gradients of the low pass's g_total and
    d_total are finite."""
    scale = 2.0**16
    while scale >= 1.0:
        finite = all(
            g is None or bool(torch.isfinite(g).all())
            for term, nets in (("g_total", G_NETS), ("d_total", D_NETS))
            for g in gradients(low.terms[term], model, nets, scale).values()
        )
        if finite:
            return scale
        scale /= 2
    raise SystemExit(f"{low.precision}: gradients overflow even without a loss scale")


def grad_agreement(fp32: torch.Tensor, low: torch.Tensor) -> tuple[float, float]:
    """Cosine of the two gradients and relative norm difference (|low| - |fp32|) / |fp32|."""
    norm_a, norm_b = fp32.norm().item(), low.norm().item()
    if norm_a == 0 or norm_b == 0:
        return (1.0 if norm_a == norm_b else 0.0), relative(norm_a, norm_b)
    return (fp32 @ low).item() / (norm_a * norm_b), (norm_b - norm_a) / norm_a


def nce_logits(
    q: torch.Tensor, k: torch.Tensor, batch_size: int, temperature: float
) -> torch.Tensor:
    """The (N, 1 + n) logits of ``losses.patch_nce_loss`` (positive first), similarities in q's
    dtype, divided in float32."""
    return patch_nce_similarities(q, k, batch_size).float() / temperature


def weight(settings: GanSettings, term: str) -> str:
    """The objective's weight of the term's kind, as printed."""
    field = WEIGHT_OF[term.split()[0]]
    if field is None:
        return "-"
    w = settings.loss_weights
    if term.startswith("g_aux") and not w.aux_in_generator:
        return "0 (log)"
    return f"{getattr(w, field):g}"


def print_terms(settings: GanSettings, fp32: Pass, low: Pass) -> None:
    p = low.precision
    print(
        f"\nloss terms (weight: of the term's kind in the objective; "
        f"rel diff: |{p} - fp32| / |fp32|)"
    )
    print(f"{'term':<28}{'weight':>8}{'float32':>14}{p:>14}{'rel diff':>10}  {p} dtype")
    for name, a in fp32.terms.items():
        b = low.terms[name]
        print(
            f"{name:<28}{weight(settings, name):>8}{a.item():>14.7g}{b.item():>14.7g}"
            f"{relative(a.item(), b.item()):>10.2e}  {str(b.dtype).removeprefix('torch.')}"
        )


def compare_gradients(model: DualGan, fp32: Pass, low: Pass, loss_scale: float) -> dict[str, dict]:
    """term -> network -> (cosine, relative norm difference), for terms with a graph; the low
    pass's gradients at ``loss_scale``."""
    out: dict[str, dict] = {}
    for name, a in fp32.terms.items():
        b = low.terms[name]
        if not (a.requires_grad and b.requires_grad):
            continue
        nets = D_NETS if name.startswith("d_") else G_NETS
        grads_a, grads_b = gradients(a, model, nets), gradients(b, model, nets, loss_scale)
        out[name] = {
            net: None if grads_a[net] is None else grad_agreement(grads_a[net], grads_b[net])
            for net in nets
        }
    return out


def print_gradients(agreement: dict[str, dict], precision: str, loss_scale: float) -> None:
    p = precision
    print(
        f"\ngradient of each term alone, {p} (loss scale {loss_scale:g}) against float32: "
        f"cosine / (|{p}| - |fp32|) / |fp32| (-: the term does not reach the network)"
    )
    for nets in (G_NETS, D_NETS):
        rows = {k: v for k, v in agreement.items() if tuple(v) == nets}
        print(f"{'term':<28}" + "".join(f"{n:>19}" for n in nets))
        for name, cells in rows.items():
            text = ["-" if c is None else f"{c[0]:.5f} / {c[1]:+.1e}" for c in cells.values()]
            print(f"{name:<28}" + "".join(f"{t:>19}" for t in text))


def print_nce(model: DualGan, fp32: Pass, low: Pass) -> None:
    p, dtype = low.precision, AUTOCAST_DTYPES[low.precision]
    print(
        f"\nPatchNCE logits (rows: batch x patches; 1 + n columns, positive first) of the {p} "
        f"pass against float32: as computed (float32 similarities of the features) and with the "
        f"similarities in {p} too ('{p} sims'); pos. top: rows whose positive wins"
    )
    print(
        f"{'direction, layer':<28}{'rows':>6}{'q dtype':>10}{'max|dlogit|':>13}{'argmax flips':>14}"
        f"{f'pos. top fp32/{p}':>20}{f'{p} sims: max|dlogit|':>24}{'flips':>7}"
    )
    for name, a, b in zip(nce_names(model), fp32.nce, low.nce, strict=True):
        ref = nce_logits(a.feat_q, a.feat_k, a.batch_size, a.temperature)
        got = nce_logits(b.feat_q.float(), b.feat_k.float(), b.batch_size, b.temperature)
        low = nce_logits(b.feat_q.to(dtype), b.feat_k.to(dtype), b.batch_size, b.temperature)
        for logits, call in ((ref, a), (got, b)):
            target = torch.zeros(len(logits), dtype=torch.long)
            if not math.isclose(
                F.cross_entropy(logits, target).item(), call.loss.item(), rel_tol=1e-5
            ):
                raise RuntimeError("nce_logits no longer matches losses._patch_nce")
        top_ref, top_got, top_low = (x.argmax(1) for x in (ref, got, low))
        positive_top = f"{int((top_ref == 0).sum())}/{int((top_got == 0).sum())}"
        print(
            f"{name:<28}{len(ref):>6}{str(b.feat_q.dtype).removeprefix('torch.'):>10}"
            f"{(got - ref).abs().max().item():>13.3e}"
            f"{int((top_got != top_ref).sum()):>14}{positive_top:>20}"
            f"{(low - ref).abs().max().item():>24.3e}{int((top_low != top_ref).sum()):>7}"
        )


def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per (image, channel) mean and standard deviation over the spatial axes."""
    flat = x.flatten(2)
    return flat.mean(2), flat.std(2, correction=0)


def print_intermediates(fp32: Pass, low: Pass) -> None:
    p = low.precision
    print(
        "\nfirst call of each instance norm (translation pass; discriminator on its real crop), "
        f"discriminator scores on the real crop, translations: {p} pass against float32"
    )
    print(
        f"{'output':<36}{f'{p} dtype':>11}{'max|diff|':>11}{'rel L2':>10}"
        f"{'mean/std fp32':>16}{f'mean/std {p}':>16}   input: max |dmean| / std, |dstd| / std"
    )
    for name, ref in fp32.captured.items():
        got = low.captured[name]
        a, b = ref.output, got.output
        diff = (b - a).abs()
        line = (
            f"{name:<36}{str(got.dtype).removeprefix('torch.'):>11}{diff.max().item():>11.2e}"
            f"{(diff.norm() / a.norm()).item():>10.2e}"
            f"{f'{a.mean().item():+.0e}/{a.std().item():.3g}':>16}"
            f"{f'{b.mean().item():+.0e}/{b.std().item():.3g}':>16}"
        )
        if ref.inputs is not None and got.inputs is not None:
            (mean_a, std_a), (mean_b, std_b) = stats(ref.inputs), stats(got.inputs)
            line += (
                f"{((mean_b - mean_a).abs() / std_a).max().item():>12.2e}"
                f"{((std_b - std_a).abs() / std_a).max().item():>12.2e}"
            )
        print(line)


def print_verdicts(fp32: Pass, low: Pass, agreement: dict[str, dict]) -> None:
    print()
    for name, a in fp32.terms.items():
        rel = relative(a.item(), low.terms[name].item())
        problems = [f"value rel diff {rel:.1e} > {VALUE_TOL:g}"] if rel > VALUE_TOL else []
        cells = {k: v for k, v in agreement.get(name, {}).items() if v is not None}
        for net, (cos, dnorm) in cells.items():
            if cos < COSINE_MIN:
                problems.append(f"{net} grad cosine {cos:.4f} < {COSINE_MIN}")
            if abs(dnorm) > VALUE_TOL:
                problems.append(f"{net} grad norm {dnorm:+.1e}")
        worst = min((c for c, _ in cells.values()), default=None)
        grads = "not in the objective" if worst is None else f"lowest grad cosine {worst:.5f}"
        verdict = f"DEPARTS: {'; '.join(problems)}" if problems else f"ok (rel {rel:.1e}, {grads})"
        print(f"verdict {name:<28}{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="bf16", choices=sorted(AUTOCAST_DTYPES))
    parser.add_argument(
        "--loss-scale", type=float, default=None, help="default: 1 for bf16, settled for fp16"
    )
    parser.add_argument("--preset", default="demo", choices=presets())
    parser.add_argument("--crop", type=int, default=None, help="crop size (default: the preset's)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--inputs", default="spectra", choices=("spectra", "uniform"))
    parser.add_argument("--seed", type=int, default=0, help="the fixed batch's seed")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    settings = preset_settings(args.preset, args.crop, args.batch)
    real_exp, real_sim, scaling = fixed_batch(settings, args.inputs, args.seed)
    lowpass = low_pass_fidelity(settings, scaling)
    model = TrainingState.fresh(settings, scaling, "", torch.device("cpu")).model
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); preset {args.preset}: "
        f"ngf {settings.ngf}, {settings.n_blocks} blocks, ndf {settings.ndf}, "
        f"residual {settings.residual}, crop {settings.crop_size}, batch {settings.batch_size}, "
        f"{settings.num_patches} patches, nce_t {settings.nce_t}, {settings.gan_mode}\n"
        f"{settings.loss_weights}\nparameters: "
        + ", ".join(f"{n} {count_parameters(getattr(model, n)):,}" for n in (*G_NETS, *D_NETS))
    )
    for name, x in (("real_exp (convolved)", real_exp), ("real_sim (unconvolved)", real_sim)):
        near = (x + 1 < 0.01).float().mean().item()
        print(f"{args.inputs} {name}: {100 * near:.0f} % of pixels within 0.01 of -1")
    fp32 = evaluate(model, settings, real_exp, real_sim, lowpass, "fp32")
    low = evaluate(model, settings, real_exp, real_sim, lowpass, args.precision)
    print_terms(settings, fp32, low)
    if args.loss_scale is not None:
        loss_scale = args.loss_scale
    else:
        loss_scale = settled_loss_scale(model, low) if args.precision == "fp16" else 1.0
    agreement = compare_gradients(model, fp32, low, loss_scale)
    print_gradients(agreement, args.precision, loss_scale)
    print_nce(model, fp32, low)
    print_intermediates(fp32, low)
    print_verdicts(fp32, low, agreement)
    print(f"\n{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
