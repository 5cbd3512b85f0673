"""Tests of exp2simgan_core.plotting: every figure renders and saves; masked pixels transparent."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imread

from exp2simgan_core import plotting
from exp2simgan_core.physics.layout import Layout2D, Layout3D

LAYOUT = Layout2D(n_pix=8, n_ebins=4)  # 6 default Ei: 48 x 32 image
LAYOUT3D = Layout3D(ei_mev=70.0, chopper_hz=250.0, n_pix=8, n_e=6)
CAPTION = "preset smoke, seed 0, checkpoint iter_00000006.pt"
DPI = 40
CLASSES = ("Dimer", "Goodenough")


def _image(seed: int) -> np.ndarray:
    """Random 2D spectrum of LAYOUT with the panel (Ei 0, bin 3) and a few pixels masked."""
    rng = np.random.default_rng(seed)
    image = rng.gamma(2.0, 1.0, LAYOUT.shape)
    LAYOUT.panel(image, 0, 3)[:] = np.nan
    image[rng.random(LAYOUT.shape) < 0.05] = np.nan
    return image


def _volume(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    volume = rng.gamma(2.0, 1.0, LAYOUT3D.shape)
    volume[:2, :, :] = np.nan
    return volume


def _check_saved(fig: Figure, tmp_path, name: str) -> None:
    """Save ``fig``; both files exist, the PDF is a PDF, the PNG is figsize * DPI pixels."""
    width, height = fig.get_size_inches()
    pdf, png = tmp_path / f"{name}.pdf", tmp_path / f"{name}.png"
    plotting.save_figure(fig, pdf, png, dpi=DPI)
    assert pdf.read_bytes()[:4] == b"%PDF"
    pixels = imread(png)
    assert pixels.shape[:2] == (round(height * DPI), round(width * DPI))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([pdf.name, png.name])


def test_draw_spectrum_2d_masks_transparent_and_labels_axes():
    image = _image(0)
    fig = Figure(figsize=(4, 6), facecolor="white")
    ax = fig.add_subplot()
    im = plotting.draw_spectrum_2d(ax, image, LAYOUT, title="test")
    rgba = im.to_rgba(im.get_array())
    nan = np.isnan(image)
    assert rgba.shape[:2] == LAYOUT.shape
    np.testing.assert_array_equal(rgba[nan, 3], 0.0)
    np.testing.assert_array_equal(rgba[~nan, 3], 1.0)
    assert im.get_clim() == (0.0, pytest.approx(np.percentile(image[~nan], 99.5)))
    ei_labels = [t.get_text() for t in ax.get_yticklabels()]
    assert ei_labels == ["25 meV", "35 meV", "50 meV", "70 meV", "100 meV", "140 meV"]
    fraction_labels = [t.get_text() for t in ax.get_xticklabels()]
    assert fraction_labels == ["0.13", "0.19", "0.25", "0.31"]
    assert "H down" in ax.get_ylabel() and "K across" in ax.get_xlabel()

    # rendered: the masked panel shows the white figure background, a data panel does not
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    for (x, y), is_background in (((3.5, 0.5), True), ((0.5, 2.5), False)):
        px, py = ax.transData.transform((x, y))
        value = pixels[pixels.shape[0] - int(py), int(px)]
        assert np.array_equal(value, [255, 255, 255, 255]) == is_background


def test_draw_spectrum_2d_rejects_wrong_shape():
    ax = Figure().add_subplot()
    with pytest.raises(ValueError, match="layout needs"):
        plotting.draw_spectrum_2d(ax, np.zeros((10, 10)), LAYOUT)


def test_draw_spectrum_3d_slices_and_cut():
    volume = _volume(1)
    axes = Figure().subplots(1, 3)
    # energy bin centres 10.5, 17.5, ..., 45.5 meV
    ims = plotting.draw_spectrum_3d(axes, volume, LAYOUT3D, slices=(10.0, 40.0))
    assert [a.get_title() for a in axes] == ["E = 10.5 meV", "E = 38.5 meV", "K = 0"]
    np.testing.assert_allclose(ims[0].get_array().filled(np.nan), volume[:, :, 0].T)
    # the K = 0 cut of an even grid averages the two central K columns; masked H rows stay NaN
    cut = ims[2].get_array().filled(np.nan)  # (E, H)
    np.testing.assert_allclose(cut, volume[:, 3:5, :].mean(axis=1).T)
    assert np.all(ims[2].to_rgba(ims[2].get_array())[:, :2, 3] == 0.0)
    assert axes[2].get_ylabel() == "E (meV)"
    with pytest.raises(ValueError, match="len\\(slices\\) \\+ 1"):
        plotting.draw_spectrum_3d(axes, volume, LAYOUT3D, slices=(10.0,))


def _drawn(fig: Figure) -> list[tuple[str, np.ndarray]]:
    """(title, image with NaN where masked) of every panel that shows an image, in order."""
    return [
        (ax.get_title(), ax.images[0].get_array().filled(np.nan)) for ax in fig.axes if ax.images
    ]


def _assert_drawn(fig: Figure, expected: list[tuple[str, np.ndarray]]) -> None:
    drawn = _drawn(fig)
    assert [title for title, _ in drawn] == [title for title, _ in expected]
    for (_, shown), (title, image) in zip(drawn, expected, strict=True):
        np.testing.assert_array_equal(shown, image, err_msg=title)
    assert CAPTION in [t.get_text() for t in fig.texts]


def test_fig2(tmp_path):
    images = [_image(0), _image(1), _image(2)]
    fig = plotting.fig2(*images, LAYOUT, CAPTION)
    titles = ["(pseudo-)experiment", "simulation, convolved", "simulation, unconvolved"]
    _assert_drawn(fig, list(zip(titles, images, strict=True)))
    _check_saved(fig, tmp_path, "fig2")


def test_fig4(tmp_path):
    examples = {
        c: {"convolved": _image(i), "deconvolved": _image(i + 10), "unconvolved": _image(i + 20)}
        for i, c in enumerate(CLASSES)
    }
    rows = [
        {"trained_on": "unconvolved", "evaluated_on": "convolved test", "accuracy": 0.9,
         "ci_low": 0.85, "ci_high": 0.94, "paper_accuracy": 0.937},
        {"trained_on": "convolved", "evaluated_on": "GAN-deconvolved test", "accuracy": 0.8,
         "ci_low": 0.7, "ci_high": 0.88, "paper_accuracy": None},
    ]  # fmt: skip
    _check_saved(plotting.fig4(examples, LAYOUT, rows, CAPTION), tmp_path, "fig4")
    rows[0]["accuracy"] = 90.0
    with pytest.raises(ValueError, match="fractions"):
        plotting.fig4(examples, LAYOUT, rows, CAPTION)


def _distances(n_sets: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    names = ("training", "experiment", "negative control", "digits")[:n_sets]
    return {name: rng.normal(1.0 + i, 0.2, 200) for i, name in enumerate(names)}


def test_fig5(tmp_path):
    spectra = {
        "raw": _image(4), "deconvolved": _image(5),
        "kernels_raw": (0.19, 0.92), "kernels_deconvolved": (0.07, 0.99),
    }  # fmt: skip
    zones = {"trust_max": 1.5, "untrust_min": 2.5}
    fig = plotting.fig5(spectra, spectra, _distances(4), zones, LAYOUT, CAPTION)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "[Dimer: 0.19 | Goodenough: 0.92]" in texts
    assert {"trustworthy", "expert opinion", "untrustworthy"} <= set(texts)
    _check_saved(fig, tmp_path, "fig5")


def test_ridgeline_order_and_zone_validation():
    ax = Figure().add_subplot()
    distances = _distances(3)
    distances["constant"] = np.full(5, 2.0)  # degenerate set: bandwidth floor, no error
    plotting.ridgeline(ax, distances, {"trust_max": 1.5, "untrust_min": 2.5})
    labels = [t.get_text() for t in ax.get_yticklabels()]
    ticks = list(ax.get_yticks())
    assert [labels[ticks.index(y)] for y in (3, 2, 1, 0)] == list(distances)  # first on top
    assert ax.get_xlabel() == "Sinkhorn distance to training set"
    with pytest.raises(ValueError, match="trust_max"):
        plotting.ridgeline(ax, distances, {"trust_max": 3.0, "untrust_min": 2.5})
    with pytest.raises(ValueError, match="no finite values"):
        plotting.ridgeline(ax, {"empty": np.array([np.nan])}, {"trust_max": 1, "untrust_min": 2})


@pytest.mark.parametrize("directions", [("exp2sim",), ("exp2sim", "sim2exp")])
def test_esi_applicability(tmp_path, directions):
    zones = {d: {"trust_max": 1.5, "untrust_min": 2.5} for d in directions}
    fig = plotting.esi_applicability({d: _distances(3) for d in directions}, zones, CAPTION)
    assert [ax.get_title() for ax in fig.axes] == list(directions)
    _check_saved(fig, tmp_path, "esi_applicability")


def test_fig6(tmp_path):
    examples = {
        d: {"input": _volume(i), "output": _volume(i + 1), "target": _volume(i + 2)}
        for i, d in enumerate(("exp2sim", "sim2exp"))
    }
    fig = plotting.fig6(examples, LAYOUT3D, CAPTION)
    cuts = [image for title, image in _drawn(fig) if title == "K = 0"]  # one per volume
    volumes = [v for d in ("exp2sim", "sim2exp") for v in examples[d].values()]
    assert len(cuts) == len(volumes) == 6
    for cut, volume in zip(cuts, volumes, strict=True):  # even K grid: the two central columns
        np.testing.assert_allclose(cut, volume[:, 3:5, :].mean(axis=1).T)
    assert CAPTION in [t.get_text() for t in fig.texts]
    _check_saved(fig, tmp_path, "fig6")


def test_esi_b(tmp_path):
    examples = {
        c: {"unconvolved": _image(i), "convolved_gan": _image(i + 1), "convolved": _image(i + 2)}
        for i, c in enumerate(CLASSES)
    }
    fig = plotting.esi_b(examples, LAYOUT, CAPTION)
    _assert_drawn(fig, [
        (title, examples[c][key])
        for c in CLASSES
        for title, key in ((f"{c}: unconvolved input", "unconvolved"),
                           ("GAN-convolved", "convolved_gan"), ("true convolved", "convolved"))
    ])  # fmt: skip
    _check_saved(fig, tmp_path, "esi_b")


def test_energy_cuts_draws_every_curve_and_hides_unused_panels(tmp_path):
    rng = np.random.default_rng(7)
    energy = np.linspace(5.0, 20.0, 6)

    def cut(title):
        values = {k: rng.random(6) for k in ("input", "truth", "a", "b")}
        values["truth"][2] = np.nan  # an uncovered bin: a gap
        translations = {"GAN": values["a"], "Wiener": values["b"]}
        return {"title": title, "energy_mev": energy, "input": values["input"],
                "truth": values["truth"], "translations": translations}  # fmt: skip

    volume = cut("v0")
    volume["translations"] = {"GAN 3D": volume["translations"]["GAN"]}  # only in this row
    classes = {"Dimer": [cut("d0"), cut("d1")], "Goodenough": [cut("g0")], "3D": [volume]}
    fig = plotting.energy_cuts(classes, CAPTION)
    axes = fig.axes
    assert len(axes) == 6 and not axes[3].axison  # the row with one cut leaves a blank panel
    assert [len(ax.lines) for ax in axes[:3]] == [4, 4, 4]  # input, two translations, truth
    colours = [line.get_color() for ax in axes for line in ax.lines[1:-1]]
    assert colours == ["C0", "C1"] * 3 + ["C2"]  # one colour per label throughout
    np.testing.assert_array_equal(
        axes[1].lines[1].get_ydata(), classes["Dimer"][1]["translations"]["GAN"]
    )
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "convolved input", "GAN", "Wiener", "GAN 3D", "true unconvolved"
    ]  # fmt: skip
    _check_saved(fig, tmp_path, "energy_cuts")
    with pytest.raises(ValueError, match="Dimer: missing keys \\['truth'\\]"):
        plotting.energy_cuts({"Dimer": [{k: v for k, v in cut("x").items() if k != "truth"}]}, "")


def test_training_figure(tmp_path):
    rng = np.random.default_rng(4)
    n = 120
    losses = {"iteration": np.arange(1, n + 1)}
    for name in ("g_gan", "g_nce", "g_idt", "g_total", "d_gan", "d_aux", "d_total"):
        losses[name] = np.exp(-np.arange(n) / 60) + 0.1 * rng.random(n)
    losses["g_aux"] = np.zeros(n)
    losses["lr"] = np.where(np.arange(n) < 60, 1e-4, 1e-4 * (n - np.arange(n)) / 60)
    selection = [
        {"checkpoint": f"iter_{it:08d}.pt", "iteration": it, "frechet_distance": fd, "direction": d}
        for d in ("exp2sim", "sim2exp")
        for it, fd in ((40, 3.0), (80, 2.0), (120, 2.5))
    ]
    selected = {"exp2sim": 80, "sim2exp": 80}
    fig = plotting.training_figure(losses, selection, selected, CAPTION, window=10)
    ax_g = fig.axes[0]
    assert ax_g.get_yscale() == "log" and "g_aux = 0" in ax_g.get_title()
    _check_saved(fig, tmp_path, "training")
    with pytest.raises(ValueError, match="not a 'exp2sim' checkpoint"):
        plotting.training_figure(losses, selection, {"exp2sim": 50}, CAPTION)


def test_data_overview(tmp_path):
    rng = np.random.default_rng(5)
    names = {
        "Dimer": ["JFW", "JA1", "JA2", "JFS", "Jperp", "D"],
        "Goodenough": ["JF1", "JA", "JF2", "JF3", "Jperp", "D"],
    }
    params = {c: rng.uniform(-3, 3, (50, 6)) for c in CLASSES}
    examples = {c: (_image(i), _image(i + 1)) for i, c in enumerate(CLASSES)}
    fig = plotting.data_overview(params, names, examples, LAYOUT, CAPTION)
    assert "JF1 (meV)" in [ax.get_xlabel() for ax in fig.axes]
    _check_saved(fig, tmp_path, "data_overview")
    params["Dimer"] = params["Dimer"][:, :5]
    with pytest.raises(ValueError, match="params_by_class\\['Dimer'\\]"):
        plotting.data_overview(params, names, examples, LAYOUT, CAPTION)
