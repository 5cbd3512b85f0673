"""Every saved checkpoint of a finished run's 2D GAN, scored as the selected one is scored.

    python benchmarks/gan_checkpoints.py [--run results/demo]

The workflow selects the checkpoint with the lowest Fréchet distance (``gan_selection.csv``),
which needs no labels and no pairs. This diagnostic asks what the other checkpoints would have
given: for each one in ``gan2d/run/checkpoints/`` it translates the test set's convolved spectra
by Exp2Sim and prints the unconvolved classifier's accuracy on them (the row "unconvolved on
gan_deconvolved" of ``accuracy.csv``) with the fraction called Dimer, PSNR and change cosine
against the true unconvolved spectra, the noise realisations of the pseudo-experiment called
Goodenough, and the checkpoint's Fréchet distance. It uses the test labels and pairs, which a
selection must not, so it describes a run and selects nothing. The column "train %" is what a
selection could use: the same classifier's accuracy on the Exp2Sim translations of the training
set's convolved spectra, whose model labels the simulation gives (no test spectrum, and spectra
the classifier never saw convolved).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from exp2simgan_core.duq import load_duq
from exp2simgan_core.duq.training import classify
from exp2simgan_core.gan.checkpoint import load_generator
from exp2simgan_core.gan.translate import translate_spectra, translation_quality
from exp2simgan_core.io import read_h5, read_rows
from exp2simgan_core.vocabulary import CLASSES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=Path("results/demo"))
    args = parser.parse_args()
    test = read_h5(args.run / "data/test.h5", required=("convolved", "unconvolved", "label"))
    convolved, truth = test.datasets["convolved"], test.datasets["unconvolved"]
    labels = test.datasets["label"]
    train = read_h5(args.run / "data/train.h5", required=("convolved", "label")).datasets
    experiment = read_h5(args.run / "data/reference/experiment.h5", required=("spectra",))
    duq = load_duq(args.run / "duq/unconvolved.pt")
    selection = {
        r["checkpoint"]: r
        for r in read_rows(args.run / "tables/gan_selection.csv")
        if r["direction"] == "exp2sim"
    }
    raw = classify(duq, convolved).predicted
    dimer = CLASSES.index("dimer")
    print(
        f"{args.run}: unconvolved classifier on the raw convolved test spectra: "
        f"{100 * np.mean(raw == labels):.1f} %, {100 * np.mean(raw == dimer):.0f} % called Dimer"
    )
    print(
        "checkpoint            accuracy %  Dimer %  PSNR dB  cosine  pseudo-exp Goodenough  "
        "Frechet  selected  train %"
    )
    for path in sorted((args.run / "gan2d/run/checkpoints").glob("iter_*.pt")):
        generator = load_generator(path, "exp2sim")
        translated = translate_spectra(generator, convolved)
        predicted = classify(duq, translated).predicted
        quality = translation_quality(translated, truth, convolved)
        pseudo = classify(duq, translate_spectra(generator, experiment.datasets["spectra"]))
        row = selection.get(path.name, {})
        on_train = classify(duq, translate_spectra(generator, train["convolved"])).predicted
        print(
            f"{path.name:<20} {100 * np.mean(predicted == labels):10.1f} "
            f"{100 * np.mean(predicted == dimer):8.0f} {quality['psnr_after']:8.2f} "
            f"{quality['change_cosine']:7.2f} "
            f"{np.sum(pseudo.predicted != dimer):>10} of {len(pseudo.predicted):<10} "
            f"{float(row.get('frechet_distance', 'nan')):8.4f}  {row.get('selected', '-'):<8} "
            f"{100 * np.mean(on_train == train['label']):7.1f}"
        )  # fmt: skip


if __name__ == "__main__":
    main()
