"""Does a faster training set-up lose translation quality? Retrain a run's GAN under each.

    python benchmarks/gan_speed_quality.py [--results results/demo] [--gan 2d|3d] [--device cuda]
                                           [--precisions fp32 bf16 fp16] [--channels-last]
                                           [--compile]
                                           [--batch-sizes 1 16] [--lr-scaling none|sqrt|linear]
                                           [--seeds 0 1] [--set lowpass_weight=10 ...]
                                           [--pairs test train]
                                           [--workdir /tmp/gan_quality]

Takes the settings and configuration of the run's 2D GAN from ``gan2d/final.pt`` (``--gan 3d``:
the 3D GAN, ``gan3d/`` and ``volume/``), replaces the GAN keys that ``--set`` names (values read
as YAML), and retrains it from ``data/patches.h5`` once per precision, batch size and seed (the
run's seed unless ``--seeds`` names others; same data; in parallel processes, at most ``--jobs``
at a time). A batch
of b crops keeps the run's epochs (b times fewer updates), saves a checkpoint every
``checkpoint_every / b`` iterations (as many candidates as the run) and trains at the run's
learning rate times 1, sqrt(b) or b (``--lr-scaling``). Then it
does what the workflow does between training and back-translation: selects generators by
Fréchet distance on ``data/train.h5`` (``select_from_run``), translates ``data/test.h5`` in both
directions and scores the translations (``translation_quality``, all classes); with
``--pairs test train`` it also scores the training spectra's own pairs, which the unpaired GAN
never sees paired, a check that leaves the test pairs unused. So it scores the
GAN's own generators (the workflow's ``gan_without_back_translation`` row), not ``translator.pt``.
Prints, per set-up, PSNR / SSIM before -> after and the training wall time. Inference stays
float32 in every case; only training changes.
A GAN's result moves with any change to its training trajectory, so compare a set-up's effect
with the spread over seeds.
On a GPU the runs share the card, so their wall times are comparable with each other only.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch
import yaml

from exp2simgan_core.config import volume_gan_section
from exp2simgan_core.gan.checkpoint import load_checkpoint, load_generator
from exp2simgan_core.gan.settings import PRECISIONS, GanSettings
from exp2simgan_core.gan.train import train
from exp2simgan_core.gan.translate import translate_spectra, translation_quality
from exp2simgan_core.io import read_h5
from exp2simgan_core.stages.gan import select_from_run
from exp2simgan_core.vocabulary import DIRECTIONS

LR_SCALING = {"none": lambda b: 1.0, "sqrt": math.sqrt, "linear": float}
# --gan: (checkpoint folder, data folder, the config's GAN section)
GANS = {
    "2d": ("gan2d", "data", lambda config: config["gan"]),
    "3d": ("gan3d", "volume", volume_gan_section),
}


@dataclasses.dataclass(frozen=True)
class SetUp:
    """One way of training: precision, memory layout, compilation, batch size, learning rate."""

    precision: str
    channels_last: bool
    compile: bool
    batch_size: int
    lr_scaling: str

    def label(self) -> str:
        layout = "+channels_last" if self.channels_last else ""
        compiled = "+compile" if self.compile else ""
        return f"{self.precision}{layout}{compiled} batch {self.batch_size}"

    def folder(self, seed: int) -> str:
        return (
            f"{self.precision}_cl{self.channels_last:d}_c{self.compile:d}"
            f"_bs{self.batch_size}_seed{seed}"
        )


def override(text: str) -> tuple[str, object]:
    """``key=value`` of ``--set``, the value read as YAML."""
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set {text!r}: expected key=value")
    return key, yaml.safe_load(value)


def retrain_and_score(
    results: Path,
    gan: str,
    overrides: dict,
    pairs: tuple[str, ...],
    setup: SetUp,
    seed: int | None,
    device: str,
    workdir: Path,
) -> tuple[float, dict[tuple[str, str], dict]]:
    """Training seconds and {(pairs, direction): quality} for one set-up and seed (None: the
    run's); ``pairs`` names the data files scored ("test", "train")."""
    torch.set_num_threads(1)
    folder, data_folder, section = GANS[gan]
    gan_dir, data = results / folder, results / data_folder
    state = load_checkpoint(gan_dir / "final.pt")
    if "config" not in state:
        raise SystemExit(f"{gan_dir}/final.pt records no configuration: rerun the workflow")
    config = state["config"]
    # the run's selection settings: recorded by its selection, not by its training
    selection = load_checkpoint(gan_dir / "selected.pt")["config"]["model_selection"]
    run_settings = GanSettings.from_config(
        {**section(config), **overrides},
        config["seed"] if seed is None else seed,
        dims=int(gan[0]),
    )
    settings = dataclasses.replace(
        run_settings,
        precision=setup.precision,
        channels_last=setup.channels_last,
        compile=setup.compile,
        batch_size=setup.batch_size,
        lr=run_settings.lr * LR_SCALING[setup.lr_scaling](setup.batch_size),
        checkpoint_every=max(1, run_settings.checkpoint_every // setup.batch_size),
    )
    patches = read_h5(data / "patches.h5").datasets
    run = workdir / gan / setup.folder(settings.seed)
    start = time.perf_counter()
    train(settings, patches["convolved"], patches["unconvolved"], run / "run", False, device=device)
    seconds = time.perf_counter() - start
    selected = run / "selected.pt"
    select_from_run(
        run / "run", data / "train.h5", selected, run / "selection.csv",
        max_spectra=selection["spectra"], seed=config["seed"], device=device,
    )  # fmt: skip
    quality = {}
    for name in pairs:
        spectra = read_h5(data / f"{name}.h5").datasets
        for direction, named in DIRECTIONS.items():
            before = spectra[named.source]
            loaded = load_generator(selected, direction)
            pred = translate_spectra(loaded, before, device=device)
            target = spectra[named.target]
            quality[name, direction] = translation_quality(pred, target, before)
    return seconds, quality


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results/demo"))
    parser.add_argument("--gan", choices=sorted(GANS), default="2d")
    parser.add_argument(
        "--set", type=override, nargs="+", default=[], metavar="KEY=VALUE",
        help="replace keys of the run's GAN section (gan: or, with --gan 3d, volume:)",
    )  # fmt: skip
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["fp32", "bf16"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1])
    parser.add_argument("--lr-scaling", choices=sorted(LR_SCALING), default="none")
    parser.add_argument("--seeds", type=int, nargs="+", default=[None], help="default: the run's")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    parser.add_argument(
        "--pairs", nargs="+", choices=["test", "train"], default=["test"], help="pairs to score"
    )
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the training step")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=spawn) as pool:
            setups = [
                SetUp(p, args.channels_last, args.compile, b, args.lr_scaling)
                for b in args.batch_sizes
                for p in args.precisions
            ]
            print(
                f"{args.results} {args.gan.upper()} GAN retrained on {args.device}, learning "
                f"rate scaled {args.lr_scaling!r} with the batch size, settings replaced: "
                f"{dict(args.set) or 'none'}",
                flush=True,
            )
            run = (args.results, args.gan, dict(args.set), tuple(args.pairs))
            futures = {
                pool.submit(retrain_and_score, *run, setup, seed, args.device, workdir): (
                    setup,
                    seed,
                )
                for seed in args.seeds
                for setup in setups
            }
            for future in as_completed(futures):  # as they finish: a run cut short keeps these
                setup, seed = futures[future]
                seconds, quality = future.result()
                for (name, direction), q in quality.items():
                    print(
                        f"{setup.label():<38} seed {'run' if seed is None else seed:<4} "
                        f"{name:<5} {direction:<8} "
                        f"PSNR {q['psnr_before']:6.2f} -> {q['psnr_after']:6.2f} dB"
                        f"   SSIM {q['ssim_before']:.3f} -> {q['ssim_after']:.3f}"
                        f"   change cos {q['change_cosine']:.2f}, size {q['change_size']:.2f}"
                        f"   (training {seconds:.0f} s)",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
