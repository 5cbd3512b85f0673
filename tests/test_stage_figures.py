"""exp2simgan_core.stages.figures: each make_* reads the workflow's files and saves PDF + PNG."""

import numpy as np
import pytest
import torch
from matplotlib.image import imread

from exp2simgan_core import plotting
from exp2simgan_core.applicability import ApplicabilitySettings, Zones, write_distances
from exp2simgan_core.gan.train import LOSS_COLUMNS
from exp2simgan_core.io import read_h5, write_csv, write_h5
from exp2simgan_core.physics.layout import Layout2D, Layout3D
from exp2simgan_core.stages import figures
from exp2simgan_core.stages.classify import ACCURACY_COLUMNS, KERNEL_COLUMNS
from exp2simgan_core.stages.gan import SELECTION_COLUMNS
from exp2simgan_core.stages.translate import QUALITY_COLUMNS

LAYOUT = Layout2D(n_pix=8, n_ebins=4)  # 6 default Ei: 48 x 32 images
LAYOUT3D = Layout3D(ei_mev=70.0, chopper_hz=250.0, n_pix=8, n_e=6)
CLASSES = ["dimer", "goodenough"]
TEXT = "preset smoke, seed 0"
PARAM_NAMES = {"dimer": ["J1", "J2"], "goodenough": ["J1", "J2", "J3"]}


def _spectra(n: int, seed: int) -> np.ndarray:
    """(n, 48, 32) float32 intensities with the panel (Ei 0, bin 3) uncovered."""
    x = np.random.default_rng(seed).gamma(2.0, 1.0, (n, *LAYOUT.shape)).astype(np.float32)
    x[:, :8, 24:32] = np.nan
    return x


def _check_saved(pdf, png) -> None:
    """The PDF is a PDF; the PNG opens as an RGBA image with something drawn on it."""
    assert pdf.read_bytes()[:5] == b"%PDF-"
    pixels = imread(png)
    assert pixels.ndim == 3 and pixels.shape[2] == 4 and min(pixels.shape[:2]) > 100
    assert pixels[..., :3].min() < 0.5  # not a blank page


def _capture(monkeypatch, name: str) -> list[tuple]:
    """Record the positional arguments of every call of ``plotting.<name>`` (still drawn)."""
    calls, original = [], getattr(plotting, name)

    def recorded(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(plotting, name, recorded)
    return calls


def _out(tmp_path, name: str):
    return tmp_path / f"{name}.pdf", tmp_path / "png" / f"{name}.png"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small files in the formats the workflow writes."""
    root = tmp_path_factory.mktemp("figures")
    paths = {}

    def h5(name: str, datasets: dict, attrs: dict | None = None):
        paths[name] = root / f"{name}.h5"
        write_h5(paths[name], datasets, attrs or {})

    labels = np.array([1, 0, 1, 0])
    h5("test", {"convolved": _spectra(4, 0), "unconvolved": _spectra(4, 1), "label": labels},
       {"classes": CLASSES})  # fmt: skip
    for i, name in enumerate(("deconvolved", "convolved_gan", "experiment", "experiment_t",
                              "negative_control", "negative_control_t")):  # fmt: skip
        h5(name, {"spectra": _spectra(4 if i < 2 else 1, 10 + i)})
    for model, names in PARAM_NAMES.items():
        params = np.random.default_rng(len(names)).normal(size=(30, len(names)))
        datasets = {"params": params, "convolved": _spectra(2, 20), "unconvolved": _spectra(2, 21)}
        h5(f"simulated_{model}", datasets, {"model": model, "param_names": names})

    paths["accuracy"] = root / "accuracy.csv"
    write_csv(paths["accuracy"], ACCURACY_COLUMNS, [
        {"trained_on": "unconvolved", "evaluated_on": "unconvolved", "n_spectra": 4,
         "accuracy": 0.75, "ci_low": 0.3, "ci_high": 0.95, "paper_accuracy": 0.989},
        {"trained_on": "unconvolved", "evaluated_on": "wiener", "n_spectra": 4,
         "accuracy": 0.5, "ci_low": 0.15, "ci_high": 0.85, "paper_accuracy": ""},
    ])  # fmt: skip
    kernel_rows = [
        {"spectrum": f"{name}_0", "translation": translation, "trained_on": trained_on,
         "k_dimer": 0.1 * (i + 1), "k_goodenough": 0.9 - 0.1 * i}
        for i, (name, translation, trained_on) in enumerate(
            (n, t, d) for n in ("experiment", "negative_control")
            for t in ("raw", "gan_deconvolved") for d in ("unconvolved", "convolved")
        )
    ]  # fmt: skip
    paths["kernels"] = root / "kernels.csv"
    write_csv(paths["kernels"], KERNEL_COLUMNS, kernel_rows)

    rng = np.random.default_rng(5)
    distances = {"test_convolved": rng.normal(1.0, 0.1, 20), "digits": rng.normal(3.0, 0.2, 20)}
    settings = ApplicabilitySettings(n_repeats=20, n_points=4)
    paths["distances"] = root / "exp2sim.h5"
    write_distances(paths["distances"], "exp2sim", distances, settings, Zones(1.2, 2.5))
    paths["no_zones"] = root / "no_zones.h5"
    write_distances(paths["no_zones"], "sim2exp", distances, settings)

    paths["quality"] = root / "quality.csv"
    write_csv(paths["quality"], QUALITY_COLUMNS, [
        {"method": m, "model_class": c, "direction": d, "n_spectra": 4, "psnr_before": 20.0,
         "psnr_after": 21.0, "ssim_before": 0.5, "ssim_after": 0.6,
         "change_cosine": 0.25 if c == "all" else 0.9, "change_size": 0.5}
        for m in ("gan", "wiener") for d in ("exp2sim", "sim2exp") for c in (*CLASSES, "all")
    ])  # fmt: skip

    paths["losses"] = root / "losses.csv"
    iterations = np.arange(1, 31)
    loss_rows = [
        {k: (int(it) if k == "iteration" else 2e-4 if k == "lr" else 1.0 / it + 0.1)
         for k in LOSS_COLUMNS}
        for it in iterations
    ]  # fmt: skip
    write_csv(paths["losses"], LOSS_COLUMNS, loss_rows)
    paths["selection"] = root / "selection.csv"
    write_csv(paths["selection"], SELECTION_COLUMNS, [
        {"checkpoint": f"iter_{it:08d}.pt", "iteration": it, "direction": d,
         "frechet_distance": fd, "selected": it == best}
        for d, best in (("exp2sim", 20), ("sim2exp", 10))
        for it, fd in ((10, 5.0), (20, 3.5), (30, 4.0))
    ])  # fmt: skip
    return paths


def test_read_csv_converts_numbers_blanks_and_bools(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c,d,e,f,g\n3,2.5,,True,False,text,1e-3\n-4,nan,x,,0,True1,\n")
    rows = figures.read_csv(path)
    assert rows[0] == {"a": 3, "b": 2.5, "c": None, "d": True, "e": False, "f": "text", "g": 1e-3}
    assert type(rows[0]["a"]) is int and type(rows[0]["b"]) is float
    assert rows[1]["a"] == -4 and np.isnan(rows[1]["b"]) and rows[1]["c"] == "x"
    assert (rows[1]["d"], rows[1]["e"], rows[1]["f"], rows[1]["g"]) == (None, 0, "True1", None)


def test_caption_names_preset_seed_and_the_checkpoint_iteration(tmp_path):
    checkpoint = tmp_path / "selected.pt"
    torch.save({"iteration": 1600, "networks": {}}, checkpoint)
    assert figures.caption("paper", 7) == "preset paper, seed 7"
    assert (
        figures.caption("smoke", 3, checkpoint)
        == "preset smoke, seed 3, checkpoint selected.pt (iteration 1600)"
    )
    assert figures.caption("smoke", 3, note="Zones: 95 %.") == "preset smoke, seed 3. Zones: 95 %."


def test_first_per_class_uses_the_test_order(files):
    assert figures._first_per_class(files["test"]) == {"dimer": 1, "goodenough": 0}


def test_make_fig2_shows_the_first_goodenough_pair(files, tmp_path, monkeypatch):
    calls = _capture(monkeypatch, "fig2")
    pdf, png = _out(tmp_path, "fig2")
    figures.make_fig2(files["experiment"], files["test"], LAYOUT, TEXT, pdf, png)
    _check_saved(pdf, png)
    ((experiment, convolved, unconvolved, layout, text),) = calls
    test = read_h5(files["test"]).datasets
    np.testing.assert_array_equal(experiment, read_h5(files["experiment"]).datasets["spectra"][0])
    np.testing.assert_array_equal(convolved, test["convolved"][0])  # label 1 = goodenough
    np.testing.assert_array_equal(unconvolved, test["unconvolved"][0])
    assert (layout, text) == (LAYOUT, TEXT)


def test_make_fig4_with_a_blank_paper_value(files, tmp_path, monkeypatch):
    calls = _capture(monkeypatch, "fig4")
    pdf, png = _out(tmp_path, "fig4")
    figures.make_fig4(
        files["test"], files["deconvolved"], files["accuracy"], LAYOUT, TEXT, pdf, png
    )
    _check_saved(pdf, png)
    ((examples, _, rows, _),) = calls
    assert list(examples) == CLASSES
    gan = read_h5(files["deconvolved"]).datasets["spectra"]
    np.testing.assert_array_equal(examples["dimer"]["deconvolved"], gan[1])  # first label 0
    np.testing.assert_array_equal(examples["goodenough"]["deconvolved"], gan[0])
    assert [r["paper_accuracy"] for r in rows] == [0.989, None]
    assert rows[0]["n_spectra"] == 4 and rows[1]["accuracy"] == 0.5


def test_largest_change_cuts_pick_the_most_changed_pixel_of_the_most_changed_rows():
    convolved = np.zeros(LAYOUT.shape)
    unconvolved = np.zeros(LAYOUT.shape)
    panels = LAYOUT.split(unconvolved)  # a view: (Ei row, energy bin, H, K)
    panels[4, :, 2, 5] = [0.0, 3.0, 0.0, 0.0]  # the largest change: Ei row 4, pixel (2, 5)
    panels[1, 2, 7, 0] = 2.0  # then Ei row 1, pixel (7, 0)
    panels[1, 0, 3, 3] = 1.0  # smaller, in the same row
    panels[5, :, 6, 6] = np.nan  # uncovered bins count as no change
    cuts = figures.largest_change_cuts(convolved, unconvolved, LAYOUT, 2)
    assert cuts == [(4, 2, 5), (1, 7, 0)]
    assert figures.largest_change_cuts(unconvolved, convolved, LAYOUT, 1) == [(4, 2, 5)]
    with pytest.raises(ValueError, match="n_cuts must be in"):
        figures.largest_change_cuts(convolved, unconvolved, LAYOUT, len(LAYOUT.ei_mev) + 1)


def test_energy_profiles_of_images_and_volumes():
    image = _spectra(1, 3)[0]
    profiles = figures.energy_profiles(image, LAYOUT)  # (Ei row, H, K, energy bin)
    assert profiles.shape == (6, 8, 8, 4)
    np.testing.assert_array_equal(
        profiles[2, 5, 1], [LAYOUT.panel(image, 2, j)[5, 1] for j in range(4)]
    )
    volume = np.arange(8 * 8 * 6.0).reshape(LAYOUT3D.shape)
    np.testing.assert_array_equal(figures.energy_profiles(volume, LAYOUT3D)[0], volume)
    edges = LAYOUT3D.ebin_edges()
    np.testing.assert_allclose(figures.energy_centres(LAYOUT3D, 0), 0.5 * (edges[1:] + edges[:-1]))


def test_make_energy_cuts_plots_each_method_at_the_chosen_cuts(files, tmp_path, monkeypatch):
    calls = _capture(monkeypatch, "energy_cuts")
    pdf, png = _out(tmp_path, "energy_cuts")
    methods = {"gan": files["deconvolved"], "wiener": files["convolved_gan"]}
    rng = np.random.default_rng(8)
    volumes = {
        k: rng.gamma(2.0, 1.0, (4, *LAYOUT3D.shape)).astype(np.float32)
        for k in ("convolved", "unconvolved")
    }
    test3d, gan3d = tmp_path / "test3d.h5", tmp_path / "gan3d.h5"
    write_h5(test3d, {**volumes, "label": np.array([0, 1, 1, 0])}, {"classes": CLASSES})
    write_h5(gan3d, {"spectra": volumes["convolved"] * 1.5}, {})
    image = figures.CutSource(files["test"], methods, files["quality"], LAYOUT, figures.ENERGY_CUTS)
    volume = figures.CutSource(test3d, {"gan": gan3d}, files["quality"], LAYOUT3D, 1, "3D")
    figures.make_energy_cuts(image, volume, TEXT, pdf, png)
    _check_saved(pdf, png)
    ((rows, text),) = calls
    assert list(rows) == [*CLASSES, "volume 3D"] and text == TEXT
    assert [len(cuts) for cuts in rows.values()] == [figures.ENERGY_CUTS] * 2 + [2]
    test = read_h5(files["test"]).datasets
    i = 1  # the first dimer spectrum
    (e, h, k), *_ = figures.largest_change_cuts(
        test["convolved"][i], test["unconvolved"][i], LAYOUT, 1
    )
    cut = rows["dimer"][0]
    np.testing.assert_array_equal(cut["input"], LAYOUT.split(test["convolved"][i])[e, :, h, k])
    np.testing.assert_array_equal(cut["truth"], LAYOUT.split(test["unconvolved"][i])[e, :, h, k])
    gan = LAYOUT.split(read_h5(files["deconvolved"]).datasets["spectra"][i])[e, :, h, k]
    labels = list(cut["translations"])
    assert labels == [
        "GAN-deconvolved (cos 0.25, size 0.50)", "Wiener (cos 0.25, size 0.50)"
    ]  # fmt: skip
    np.testing.assert_array_equal(cut["translations"][labels[0]], gan)
    edges = LAYOUT.ebin_edges(LAYOUT.ei_mev[e])
    np.testing.assert_allclose(cut["energy_mev"], 0.5 * (edges[1:] + edges[:-1]))
    assert cut["title"].startswith(f"dimer: $E_i$ = {LAYOUT.ei_mev[e]:g} meV")
    # the volume row: the first volume of each class (labels 0, 1 -> volumes 0, 1)
    for j, (name, cut3d) in enumerate(zip(CLASSES, rows["volume 3D"], strict=True)):
        ((_, h, k),) = figures.largest_change_cuts(
            volumes["convolved"][j], volumes["unconvolved"][j], LAYOUT3D, 1
        )
        assert cut3d["title"].startswith(f"{name} 3D: $E_i$ = 70 meV")
        np.testing.assert_array_equal(cut3d["truth"], volumes["unconvolved"][j, h, k])
        (label,) = cut3d["translations"]
        assert label == "GAN-deconvolved 3D (cos 0.25, size 0.50)"
        np.testing.assert_allclose(cut3d["translations"][label], 1.5 * cut3d["input"])
    # a layout with two Ei rows gives two cuts per class, one per row
    two_rows = Layout2D(n_pix=8, n_ebins=4, ei_mev=(35.0, 100.0), chopper_hz=(200.0, 300.0))
    test_two = tmp_path / "test_two.h5"
    halves = {k: v[:, :16] for k, v in test.items() if k != "label"}
    write_h5(test_two, {**halves, "label": test["label"]}, {"classes": CLASSES})
    gan_two = tmp_path / "gan_two.h5"
    write_h5(gan_two, {"spectra": halves["convolved"]}, {})
    two = figures.CutSource(test_two, {"gan": gan_two}, files["quality"], two_rows, 3)
    figures.make_energy_cuts(two, None, TEXT, pdf, png)
    assert [len(cuts) for cuts in calls[-1][0].values()] == [2, 2]
    wrong = figures.CutSource(files["test"], {"wien": files["deconvolved"]}, files["quality"],
                              LAYOUT, 1)  # fmt: skip
    with pytest.raises(ValueError, match="no Exp2Sim row for all classes of method 'wien'"):
        figures.make_energy_cuts(wrong, None, TEXT, pdf, png)


def test_make_esi_b_shows_the_first_test_pair_of_each_class(files, tmp_path, monkeypatch):
    calls = _capture(monkeypatch, "esi_b")
    pdf, png = _out(tmp_path, "esi_b")
    figures.make_esi_b(files["test"], files["convolved_gan"], LAYOUT, TEXT, pdf, png)
    _check_saved(pdf, png)
    ((examples, layout, text),) = calls
    test = read_h5(files["test"]).datasets
    gan = read_h5(files["convolved_gan"]).datasets["spectra"]
    assert list(examples) == CLASSES and (layout, text) == (LAYOUT, TEXT)
    for name, index in (("dimer", 1), ("goodenough", 0)):  # labels [1, 0, 1, 0]
        shown = examples[name]
        np.testing.assert_array_equal(shown["unconvolved"], test["unconvolved"][index])
        np.testing.assert_array_equal(shown["convolved_gan"], gan[index])
        np.testing.assert_array_equal(shown["convolved"], test["convolved"][index])


def test_make_fig5_and_its_missing_inputs(files, tmp_path):
    spectra = {
        "experiment": (files["experiment"], files["experiment_t"]),
        "negative_control": (files["negative_control"], files["negative_control_t"]),
    }
    pdf, png = _out(tmp_path, "fig5")
    figures.make_fig5(spectra, files["kernels"], files["distances"], LAYOUT, TEXT, pdf, png)
    _check_saved(pdf, png)
    assert figures._kernels(figures.read_csv(files["kernels"]), "negative_control_0", "raw") == (
        pytest.approx(0.5),
        pytest.approx(0.5),
    )  # the row of the classifier trained on unconvolved spectra, not the convolved one's
    with pytest.raises(ValueError, match=r"no_zones\.h5 holds no calibrated zones"):
        figures.make_fig5(spectra, files["kernels"], files["no_zones"], LAYOUT, TEXT,
                          tmp_path / "x.pdf", tmp_path / "x.png")  # fmt: skip
    write_csv(tmp_path / "few.csv", KERNEL_COLUMNS, [])
    with pytest.raises(ValueError, match=r"no kernel values for experiment_0 \(raw\)"):
        figures.make_fig5(spectra, tmp_path / "few.csv", files["distances"], LAYOUT, TEXT,
                          tmp_path / "x.pdf", tmp_path / "x.png")  # fmt: skip
    assert not (tmp_path / "x.pdf").exists()


def test_make_esi_applicability(files, tmp_path):
    pdf, png = _out(tmp_path, "esi_c")
    figures.make_esi_applicability(files["distances"], TEXT, pdf, png)
    _check_saved(pdf, png)
    with pytest.raises(ValueError, match="holds no calibrated zones"):
        figures.make_esi_applicability(files["no_zones"], TEXT, tmp_path / "d.pdf", png)


def test_make_training_marks_the_selected_checkpoints(files, tmp_path, monkeypatch):
    calls = _capture(monkeypatch, "training_figure")
    pdf, png = _out(tmp_path, "training")
    figures.make_training(files["losses"], files["selection"], TEXT, pdf, png)
    _check_saved(pdf, png)
    ((losses, selection, chosen, _),) = calls
    assert tuple(losses) == LOSS_COLUMNS
    np.testing.assert_array_equal(losses["iteration"], np.arange(1, 31))
    assert chosen == {"exp2sim": 20, "sim2exp": 10}  # 'True'/'False' read as booleans
    assert len(selection) == 6 and selection[0]["frechet_distance"] == 5.0


def test_make_data_overview_from_per_model_files(files, tmp_path, monkeypatch):
    calls = _capture(monkeypatch, "data_overview")
    pdf, png = _out(tmp_path, "data_overview")
    simulated = {m: files[f"simulated_{m}"] for m in PARAM_NAMES}
    figures.make_data_overview(simulated, LAYOUT, TEXT, pdf, png)
    _check_saved(pdf, png)
    ((params, names, examples, _, _),) = calls
    assert names == {m: list(n) for m, n in PARAM_NAMES.items()}
    for model, path in simulated.items():
        data = read_h5(path).datasets
        np.testing.assert_array_equal(params[model], data["params"])
        np.testing.assert_array_equal(examples[model][0], data["convolved"][0])
        np.testing.assert_array_equal(examples[model][1], data["unconvolved"][0])


def test_make_data_overview_refuses_params_that_do_not_match_their_names(files, tmp_path):
    mislabelled = {"dimer": files["simulated_goodenough"]}  # 3 columns
    path = tmp_path / "two_names.h5"
    write_h5(
        path,
        {"params": np.ones((5, 3)), "convolved": _spectra(1, 0), "unconvolved": _spectra(1, 1)},
        {"param_names": PARAM_NAMES["dimer"]},
    )
    mislabelled["dimer"] = path
    with pytest.raises(ValueError, match=r"has shape \(5, 3\) for names \['J1', 'J2'\]"):
        figures.make_data_overview(
            mislabelled, LAYOUT, TEXT, tmp_path / "c.pdf", tmp_path / "c.png"
        )
    assert not (tmp_path / "c.pdf").exists()
