"""Translation stage: a project file through a selected generator, and the quality of the
held-out test set's translations (PSNR/SSIM before and after, change direction and size)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from exp2simgan_core.dataset import spectra_for
from exp2simgan_core.gan.checkpoint import load_generator
from exp2simgan_core.gan.translate import translate_spectra, translation_quality
from exp2simgan_core.io import DataFileError, check_writable, read_h5, write_csv, write_h5
from exp2simgan_core.util import resolve_device
from exp2simgan_core.vocabulary import DOMAINS
from exp2simgan_core.vocabulary import direction as get_direction

QUALITY_COLUMNS = (
    "method",
    "model_class", "direction", "n_spectra",
    "psnr_before", "psnr_after", "ssim_before", "ssim_after",
    "change_cosine", "change_size", "psnr_gain_low", "psnr_gain_high",
)  # fmt: skip


def translate_file(
    checkpoint: str | Path,
    direction: str,
    in_path: str | Path,
    out_path: str | Path,
    device: str = "auto",
) -> None:
    """Translate the spectra of a project file; write 'spectra' (and 'label' if present)."""
    check_writable(out_path)
    spectra = spectra_for(in_path, direction)
    loaded = load_generator(Path(checkpoint), direction)
    translated = translate_spectra(loaded, spectra, device=resolve_device(device))
    datasets = {"spectra": translated}
    source = read_h5(in_path)
    if "label" in source.datasets:
        datasets["label"] = source.datasets["label"]
    attrs = {
        "direction": direction,
        "checkpoint": Path(checkpoint).name,
        "source": str(in_path),
        "domain": loaded.output_domain,
        **{k: source.attrs[k] for k in ("classes",) if k in source.attrs},
    }
    write_h5(out_path, datasets, attrs)


def write_translation_quality(
    test_path: str | Path,
    translated: Sequence[tuple[str, str, str | Path]],
    table_csv: str | Path,
) -> list[dict]:
    """PSNR/SSIM before and after translation on the held-out pairs, per model class.

    ``translated``: (method, direction, path) for each file holding 'spectra' that translate the
    test file in that direction (the GAN's, or a classical deconvolution's for exp2sim). Exp2Sim
    is scored against the true unconvolved spectra (before = the convolved input), Sim2Exp
    against the true convolved ones (before = the unconvolved input). Writes and returns rows
    with ``QUALITY_COLUMNS`` (per file: one per class, then 'all').
    """
    check_writable(table_csv)
    test = read_h5(test_path, required=(*DOMAINS, "label"))
    classes = list(test.attrs["classes"])
    labels = test.datasets["label"]
    groups = [(c, labels == i) for i, c in enumerate(classes)] + [("all", labels >= 0)]
    rows = []
    for method, direction, path in translated:
        pred = read_h5(path, required=("spectra",)).datasets["spectra"]
        named = get_direction(direction)
        before, target = test.datasets[named.source], test.datasets[named.target]
        if pred.shape != target.shape:
            raise DataFileError(
                f"{path}: shape {pred.shape} differs from the test set's {target.shape}"
            )
        for name, mask in groups:
            quality = translation_quality(pred[mask], target[mask], before[mask])
            rows.append(
                {
                    "method": method,
                    "model_class": name,
                    "direction": direction,
                    "n_spectra": int(mask.sum()),
                    **quality,
                }
            )
    write_csv(table_csv, QUALITY_COLUMNS, rows)
    return rows
