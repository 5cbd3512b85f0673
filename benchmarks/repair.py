"""Does translation repair the domain gap? A finished run's accuracy table on a larger test set.

    python benchmarks/repair.py [--run results/demo] [--per-class 400]

A run's test set (80 spectra per class in the demo) gives Wilson intervals of about +-7 points,
so a 10-point lift by translation cannot show as non-overlapping intervals. This benchmark
evaluates the run's own classifiers (``duq/*.pt``) and selected GAN (``gan2d/selected.pt``) on
``--per-class`` more pairs per class of the demo layout, drawn from other random streams than
the run's (``separability.py``'s cached draws, simulated once when absent), so none of them
was seen in training. It prints every accuracy row that a GAN or no translation gives, with
Wilson 95 % intervals, and for each translated row the spectra it fixed and broke against its
raw row with McNemar's exact p (the same spectra, classified before and after translation: the
paired test for which the intervals' overlap is a conservative stand-in).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from separability import settings_for, simulated

from exp2simgan_core.duq import load_duq
from exp2simgan_core.gan.checkpoint import load_generator
from exp2simgan_core.gan.translate import translate_spectra
from exp2simgan_core.stages.classify import accuracy_rows, paired_text
from exp2simgan_core.vocabulary import CLASSES

CLASSIFIERS = ("unconvolved", "convolved")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("results/demo"))
    parser.add_argument("--per-class", type=int, default=400)
    parser.add_argument("--n-pix", type=int, default=16)
    parser.add_argument("--cache", type=Path, default=Path("results/benchmarks/separability"))
    args = parser.parse_args()

    settings = settings_for(args.n_pix)
    data = [simulated(m, args.per_class, settings, args.cache) for m in CLASSES]
    labels = np.concatenate([np.full(args.per_class, i) for i in range(len(CLASSES))])
    sets = {d: np.concatenate([x[d] for x in data]) for d in ("unconvolved", "convolved")}
    checkpoint = args.run / "gan2d" / "selected.pt"
    for direction, source, name in (
        ("exp2sim", "convolved", "gan_deconvolved"),
        ("sim2exp", "unconvolved", "gan_convolved"),
    ):
        sets[name] = translate_spectra(load_generator(checkpoint, direction), sets[source])
    shape = sets["convolved"].shape[1:]
    duq = {d: load_duq(args.run / "duq" / f"{d}.pt", expected_shape=shape) for d in CLASSIFIERS}
    print(f"run {args.run}, {len(labels)} test spectra ({args.per_class} per class), "
          f"GAN {checkpoint}")  # fmt: skip
    print(f"{'trained on':12} {'evaluated on':16} {'accuracy':>9}  {'Wilson 95 %':14} paper")
    for row in accuracy_rows(duq, sets, labels):
        paper = f"{100 * row['paper_accuracy']:.1f}" if row["paper_accuracy"] != "" else "-"
        interval = f"[{100 * row['ci_low']:4.1f}, {100 * row['ci_high']:4.1f}]"
        print(f"{row['trained_on']:12} {row['evaluated_on']:16} {100 * row['accuracy']:8.1f}  "
              f"{interval}   {paper:>5}  {paired_text(row)}")  # fmt: skip


if __name__ == "__main__":
    main()
