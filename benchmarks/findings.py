"""Which of the paper's findings a finished run shows, for several runs side by side.

    python benchmarks/findings.py results/demo results/demo_seed1 results/demo_seed2

One run is one draw: another seed, or the same seed on a CPU whose LAPACK rounds the simulated
spectra differently in the last bit, trains other networks. This prints, per run (a column),
the rows of its tables that carry the findings, as a Markdown table:

- (a) each classifier on its own domain, % (unconvolved / convolved);
- (b) the domain gap: the classifier trained on convolved spectra on unconvolved ones, and the
  one trained on unconvolved spectra on convolved ones, % [Wilson 95 %];
- (c) its repair by translation: Exp2Sim (unconvolved classifier, convolved -> GAN-deconvolved)
  and Sim2Exp (convolved classifier, unconvolved -> GAN-convolved), with the spectra fixed /
  broken and McNemar's exact p; the Richardson-Lucy row for comparison;
- (d) the pseudo-experiment: noise realisations called Goodenough by the unconvolved classifier,
  raw / GAN-deconvolved, and the mean kernels [Dimer | Goodenough];
- (e) Exp2Sim's PSNR on the test spectra before and after, the change with its 95 % interval,
  and the change cosine;
- (f) single spectra rated alone (Exp2Sim features): the pseudo-experiment's trustworthy count,
  the negative control's trustworthy / expert opinion / untrustworthy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from exp2simgan_core.applicability import ZONES
from exp2simgan_core.headline import zone_counts
from exp2simgan_core.io import read_rows


def _rows(run: Path, table: str) -> list[dict[str, str]]:
    return read_rows(run / "tables" / table)


def _find(rows: list[dict[str, str]], **match: str) -> dict[str, str]:
    for row in rows:
        if all(row[k] == v for k, v in match.items()):
            return row
    raise SystemExit(f"no row {match}")


def _pct(value: str) -> str:
    return f"{100 * float(value):.1f}"


def _accuracy(rows, trained_on: str, evaluated_on: str, interval: bool = True) -> str:
    row = _find(rows, trained_on=trained_on, evaluated_on=evaluated_on)
    text = _pct(row["accuracy"])
    if interval:
        text += f" [{_pct(row['ci_low'])}, {_pct(row['ci_high'])}]"
    if row["compared_with"]:
        text += f", +{row['n_fixed']} / -{row['n_broken']}, p = {float(row['p_paired']):.2g}"
    return text


def findings(run: Path) -> dict[str, str]:
    """The findings' rows of one run, by criterion."""
    acc, verdicts = _rows(run, "accuracy.csv"), _rows(run, "duq_verdicts.csv")
    quality, single = _rows(run, "translation_quality.csv"), _rows(run, "applicability_single.csv")
    pseudo = {
        t: _find(verdicts, trained_on="unconvolved", set="experiment", translation=t)
        for t in ("raw", "gan_deconvolved")
    }
    exp2sim = _find(quality, method="gan", model_class="all", direction="exp2sim")
    change = float(exp2sim["psnr_after"]) - float(exp2sim["psnr_before"])
    zones = zone_counts(single)
    return {
        "(a) own domain, unconv / conv": " / ".join(
            _accuracy(acc, d, d, interval=False) for d in ("unconvolved", "convolved")
        ),
        "(b) conv -> unconv": _accuracy(acc, "convolved", "unconvolved"),
        "(b) unconv -> conv": _accuracy(acc, "unconvolved", "convolved"),
        "(c) Exp2Sim: unconv on GAN-deconvolved": _accuracy(acc, "unconvolved", "gan_deconvolved"),
        "(c) Sim2Exp: conv on GAN-convolved": _accuracy(acc, "convolved", "gan_convolved"),
        "(c) unconv on Richardson-Lucy": _accuracy(acc, "unconvolved", "richardson_lucy"),
        "(d) pseudo-experiment Goodenough, raw / deconvolved (unconv)": " / ".join(
            f"{pseudo[t]['n_goodenough']} of {pseudo[t]['n_spectra']}" for t in pseudo
        ),
        "(d) mean kernels [Dimer \\| Goodenough], raw -> deconvolved": " -> ".join(
            f"[{float(r['k_dimer_mean']):.2f} \\| {float(r['k_goodenough_mean']):.2f}]"
            for r in pseudo.values()
        ),
        "(e) Exp2Sim PSNR, dB: before -> after (change [95 %]); change cosine": (
            f"{float(exp2sim['psnr_before']):.2f} -> {float(exp2sim['psnr_after']):.2f} "
            f"({change:+.2f} [{float(exp2sim['psnr_gain_low']):+.2f}, "
            f"{float(exp2sim['psnr_gain_high']):+.2f}]); {float(exp2sim['change_cosine']):.2f}"
        ),
        "(f) pseudo-experiment trustworthy; negative control by zone": (
            f"{zones['experiment']['trustworthy']}; "
            + " / ".join(str(zones["negative_control"][z]) for z in ZONES)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="finished runs' results folders")
    args = parser.parse_args()
    columns = {run.name: findings(run) for run in args.runs}
    print("| criterion | " + " | ".join(columns) + " |")
    print("| --- |" + " --- |" * len(columns))
    for criterion in next(iter(columns.values())):
        print(f"| {criterion} | " + " | ".join(c[criterion] for c in columns.values()) + " |")


if __name__ == "__main__":
    main()
