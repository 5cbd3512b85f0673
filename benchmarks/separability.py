"""Can the two models be told apart, and how far apart are the domains? Accuracy against data size.

    python benchmarks/separability.py [--n-pix 16] [--per-class 400] [--test 80]
        [--sizes 50 100 200 320] [--duq-sizes 320] [--duq lr=0.001 batch_size=16 epochs=60]
        [--duq ... intensity_scale=linear]

Simulates ``--per-class`` stable draws of each model once per layout (demo panels of ``--n-pix``
pixels, cached under ``--cache``), keeps the last ``--test`` of each class as the test set and
trains on nested subsets (the first n of each class) of the rest. For each definition of the
unconvolved spectrum (bin_integrated, bin_centre at the paper's 0.1 meV FWHM) it prints test
accuracy with Wilson 95 % intervals, on the classifier's own domain and across domains (trained
on convolved, tested on unconvolved, and the reverse), for a scikit-learn random forest in every
cell and the project's DUQ (``--duq`` replaces DuqSettings fields) at ``--duq-sizes``. Spectra
enter both as the networks read them: divided by their own mean over covered pixels, NaN -> 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import h5py
import numpy as np
from sklearn.ensemble import RandomForestClassifier

from exp2simgan_core.config import run_config
from exp2simgan_core.dataset import normalised
from exp2simgan_core.duq import DuqSettings, accuracy_with_ci, classify, train_duq
from exp2simgan_core.physics.models import get_model
from exp2simgan_core.physics.spectra import UNCONVOLVED, SpectrumCalculator
from exp2simgan_core.simulate import SimulationSettings, draw_spectra
from exp2simgan_core.vocabulary import CLASSES

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo.yaml"
SEEDS = {"dimer": 100, "goodenough": 101}  # one random stream per class, as the notes quote


def settings_for(n_pix: int) -> SimulationSettings:
    """The demo's spectrum settings with ``n_pix`` pixels per panel."""
    section = run_config(DEMO)["simulation"]["spectrum"]
    section["layout"]["n_pix"] = n_pix
    return SimulationSettings.from_config(section)


def simulated(model: str, n: int, settings: SimulationSettings, cache: Path) -> dict:
    """params, convolved and bin_integrated unconvolved spectra of ``n`` draws, cached."""
    path = cache / f"{settings.layout.n_pix}pix_{model}_{n}.h5"
    if not path.exists():
        spec = get_model(model)
        spectrum = dataclasses.replace(settings.spectrum, unconvolved="bin_integrated")
        calc = SpectrumCalculator(spec, spectrum, settings.uncovered(spec.lattice_ab))
        start = time.perf_counter()
        params, unconv, conv, rejected = draw_spectra(calc, n, np.random.default_rng(SEEDS[model]))
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as f:
            f["params"], f["unconvolved"], f["convolved"] = params, unconv, conv
            f.attrs["rejected"], f.attrs["seconds"] = rejected, time.perf_counter() - start
    with h5py.File(path) as f:
        data = {k: f[k][:] for k in ("params", "unconvolved", "convolved")}
        print(f"{model}: {n} draws, {f.attrs['rejected']} unstable rejected, "
              f"{f.attrs['seconds']:.0f} s to simulate")  # fmt: skip
    return data


def bin_centre(model: str, params: np.ndarray, settings: SimulationSettings) -> np.ndarray:
    """The paper's unconvolved spectra of the same draws (pixel centres only: no oversampling)."""
    spec = get_model(model)
    centres = dataclasses.replace(
        settings.spectrum, unconvolved="bin_centre", oversample=1, q_resolution=False
    )
    calc = SpectrumCalculator(spec, centres, settings.uncovered(spec.lattice_ab))
    return np.stack([calc.pair(p)[0] for p in params])


def flat(spectra: np.ndarray) -> np.ndarray:
    return normalised(spectra)[0].reshape(len(spectra), -1)


def interval(correct: np.ndarray) -> str:
    acc, low, high = accuracy_with_ci(correct)
    return f"{100 * acc:5.1f} [{100 * low:4.1f}, {100 * high:5.1f}]"


def evaluate(fit, domains: dict, train_rows, test_rows, labels) -> dict[str, str]:
    """Accuracy of a classifier trained on each domain, tested on each domain."""
    out = {}
    for trained in domains:
        predict = fit(domains[trained][train_rows], labels[train_rows])
        for tested in domains:
            correct = predict(domains[tested][test_rows]) == labels[test_rows]
            out[f"{trained[:5]}->{tested[:5]}"] = interval(correct)
    return out


def random_forest(x, y):
    forest = RandomForestClassifier(300, random_state=0, n_jobs=-1).fit(flat(x), y)
    return lambda spectra: forest.predict(flat(spectra))


def duq(settings: DuqSettings):
    def fit(x, y):
        result = train_duq(settings, x, y, progress=False)
        return lambda spectra: classify(result.classifier, spectra).predicted

    return fit


def parse_duq(items: list[str]) -> DuqSettings:
    """DuqSettings from ``key=value`` items; tuples as comma-separated integers (channels=16,32).

    ``intensity_scale`` (and any other text field) is taken as written.
    """
    parsers = {"float": float, "int": int, "str": str}
    types = {f.name: f.type for f in dataclasses.fields(DuqSettings)}
    values = {}
    for item in items:
        key, value = item.split("=", 1)
        if types[key].startswith("tuple"):
            values[key] = tuple(int(v) for v in value.split(","))
        else:
            values[key] = parsers[types[key]](value)
    return DuqSettings(**values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-pix", type=int, default=16)
    parser.add_argument("--per-class", type=int, default=400)
    parser.add_argument("--test", type=int, default=80)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200, 320])
    parser.add_argument("--duq-sizes", type=int, nargs="*", default=[320])
    parser.add_argument("--duq", nargs="*", default=["lr=0.001", "batch_size=16", "epochs=60"])
    parser.add_argument("--truths", nargs="+", choices=UNCONVOLVED, default=list(UNCONVOLVED))
    parser.add_argument("--cache", type=Path, default=Path("results/benchmarks/separability"))
    args = parser.parse_args()
    if max(args.sizes + args.duq_sizes) + args.test > args.per_class:
        parser.error("the largest training size plus --test exceeds --per-class")
    settings = settings_for(args.n_pix)
    data = {m: simulated(m, args.per_class, settings, args.cache) for m in CLASSES}
    labels = np.concatenate([np.full(args.per_class, c) for c in range(len(CLASSES))])
    convolved = np.concatenate([data[m]["convolved"] for m in CLASSES])
    truths = {"bin_integrated": np.concatenate([data[m]["unconvolved"] for m in CLASSES])}
    if "bin_centre" in args.truths:
        truths["bin_centre"] = np.concatenate(
            [bin_centre(m, data[m]["params"], settings) for m in CLASSES]
        )
    first = np.arange(args.per_class)
    test_rows = np.concatenate([c * args.per_class + first[-args.test :] for c in (0, 1)])
    duq_settings = parse_duq(args.duq)
    print(
        f"layout {settings.layout.shape}, {args.test} test spectra per class; DUQ {args.duq}, "
        f"{duq_settings.intensity_scale} intensity scale"
    )
    print(f"{'truth':15s} {'method':6s} {'n/class':>7s}  accuracy % [Wilson 95 %]")
    for truth in args.truths:
        unconv = truths[truth]
        covered = np.nan_to_num(unconv) > 1e-3 * np.nanmax(unconv, axis=(1, 2), keepdims=True)
        print(f"{truth}: {100 * covered.mean():.1f} % of pixels above 1e-3 of their spectrum's max")
        domains = {"unconvolved": unconv, "convolved": convolved}
        runs = [("RF", n, random_forest) for n in args.sizes]
        runs += [("DUQ", n, duq(duq_settings)) for n in args.duq_sizes]
        for method, n, fit in runs:
            train_rows = np.concatenate([c * args.per_class + first[:n] for c in (0, 1)])
            start = time.perf_counter()
            cells = evaluate(fit, domains, train_rows, test_rows, labels)
            row = "  ".join(f"{k} {v}" for k, v in cells.items())
            print(f"{truth:15s} {method:6s} {n:7d}  {row}  ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
