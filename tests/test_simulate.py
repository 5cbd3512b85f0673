"""Sharded bulk generation: determinism, provenance, reference sets, bad input."""

import numpy as np
import pytest

from exp2simgan_core.io import read_h5
from exp2simgan_core.physics.lswt import UnstableStructureError
from exp2simgan_core.physics.models import get_model
from exp2simgan_core.physics.spectra import SpectrumCalculator
from exp2simgan_core.simulate import SimulationSettings, draw_spectra, draw_unconvolved
from exp2simgan_core.stages.simulate import simulate_reference_set, simulate_shard
from exp2simgan_core.vocabulary import CLASSES

TINY = {
    "convention": "physical",
    "oversample": 1,
    "layout": {"n_pix": 6, "ei_mev": [25, 140], "chopper_hz": [300, 400], "n_ebins": 4},
}


@pytest.fixture(scope="module")
def settings() -> SimulationSettings:
    return SimulationSettings.from_config(TINY)


def shard(tmp_path, settings, name="x.h5", model="goodenough", seed=0, index=0, n=2):
    path = tmp_path / name
    simulate_shard(model, n, seed, index, settings, path, progress=False)
    return read_h5(path, required=["unconvolved", "convolved", "params"])


def test_same_seed_is_bitwise_identical_and_shards_differ(tmp_path, settings):
    a = shard(tmp_path, settings, "a.h5")
    b = shard(tmp_path, settings, "b.h5")
    for name in ("unconvolved", "convolved", "params"):
        assert np.array_equal(a.datasets[name], b.datasets[name], equal_nan=True)
    other = shard(tmp_path, settings, "c.h5", index=1)
    reseeded = shard(tmp_path, settings, "d.h5", seed=1)
    params = [x.datasets["params"] for x in (a, other, reseeded)]
    rows = np.concatenate(params)
    assert len(np.unique(rows, axis=0)) == len(rows)  # no draw shared between shards or seeds


def test_shard_contents_and_provenance(tmp_path, settings):
    data = shard(tmp_path, settings, model="dimer", n=3)
    conv, unconv = data.datasets["convolved"], data.datasets["unconvolved"]
    assert conv.shape == unconv.shape == (3, 12, 24) and conv.dtype == np.float32
    assert np.array_equal(np.isnan(conv), np.isnan(unconv))
    assert np.nanmin(conv) >= 0 and np.all(np.nanmax(conv, axis=(1, 2)) > 0)
    lo, hi = np.array([(-20, 0), (-3, 3), (-3, 3), (-20, 0), (0, 3), (0, 0.2)]).T
    assert np.all((data.datasets["params"] >= lo) & (data.datasets["params"] <= hi))
    attrs = data.attrs
    assert attrs["model"] == "dimer" and attrs["seed"] == 0 and attrs["shard"] == 0
    assert attrs["param_names"] == ["JFW", "JA1", "JA2", "JFS", "Jperp", "D"]
    assert attrs["settings"]["spectrum"]["layout"]["n_pix"] == 6
    assert SimulationSettings.from_config(TINY).to_dict() == attrs["settings"]
    assert "code_version" in attrs


@pytest.mark.parametrize("kind", ["experiment", "negative_control", "rb2mnf4"])
def test_reference_sets(tmp_path, settings, kind):
    path = tmp_path / f"{kind}.h5"
    simulate_reference_set(kind, 2, 0, settings, path, progress=False)
    data = read_h5(path, required=["spectra"])
    spectra = data.datasets["spectra"]
    assert spectra.shape == (2, 12, 24) and spectra.dtype == np.float32
    assert np.nanmin(spectra) >= 0 and np.all(np.nanmax(spectra, axis=(1, 2)) > 0)
    assert data.attrs["kind"] == kind
    if kind == "experiment":  # two counting-noise draws of the same spectrum differ
        assert not np.array_equal(spectra[0], spectra[1], equal_nan=True)


def test_bad_input_is_named_and_writes_nothing(tmp_path, settings):
    with pytest.raises(ValueError, match="unknown training model 'chain'"):
        simulate_shard("chain", 1, 0, 0, settings, tmp_path / "x.h5", progress=False)
    with pytest.raises(ValueError, match="n_spectra"):
        simulate_shard("dimer", 0, 0, 0, settings, tmp_path / "x.h5", progress=False)
    with pytest.raises(ValueError, match="unknown reference set"):
        simulate_reference_set("photos", 1, 0, settings, tmp_path / "x.h5", progress=False)
    with pytest.raises(ValueError, match=r"unknown layout key\(s\) \['npix'\]"):
        SimulationSettings.from_config({"layout": {"npix": 8}})
    with pytest.raises(ValueError, match="unknown spectrum key"):
        SimulationSettings.from_config({"convension": "horace"})
    with pytest.raises(ValueError, match="chopper"):
        SimulationSettings.from_config({"layout": {"ei_mev": [25, 35], "chopper_hz": [300]}})
    assert list(tmp_path.iterdir()) == []


def test_unwritable_destination_fails_before_work(tmp_path, settings):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(OSError, match="cannot write"):
        simulate_shard("dimer", 1, 0, 0, settings, blocker / "x.h5", progress=False)
    with pytest.raises(OSError, match="it is a folder"):
        simulate_shard("dimer", 1, 0, 0, settings, tmp_path, progress=False)
    assert blocker.read_text() == "not a folder"


def test_model_classes_order():
    assert CLASSES == ("dimer", "goodenough")


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_the_cheap_stability_test_rejects_exactly_what_the_full_calculation_rejects(backend):
    """check_stable against pair at the grid's own wavevectors, on Dimer draws (most unstable);
    torch runs on the CPU here."""
    demo = dict(TINY, oversample=3, layout={**TINY["layout"], "n_pix": 8})
    settings = SimulationSettings.from_config(demo)
    spec = get_model("dimer")
    calc = SpectrumCalculator(
        spec, settings.spectrum, settings.uncovered(spec.lattice_ab), backend=backend
    )
    rng = np.random.default_rng(4)
    verdicts = []
    for _ in range(30):
        params = spec.sample(rng)
        try:
            calc.pair(params)
            full = True
        except UnstableStructureError:
            full = False
        try:
            calc.check_stable(params)
            cheap = True
        except UnstableStructureError:
            cheap = False
        verdicts.append((cheap, full))
    assert all(cheap == full for cheap, full in verdicts)
    assert 0 < sum(full for _, full in verdicts) < len(verdicts)  # both kinds were drawn


def test_an_unconvolved_draw_is_the_pairs_draw(settings):
    spec = get_model("dimer")
    calc = SpectrumCalculator(spec, settings.spectrum, settings.uncovered(spec.lattice_ab))
    for seed in range(3):
        params, unconv, _, _ = draw_spectra(calc, 1, np.random.default_rng(seed), progress=False)
        alone, spectrum = draw_unconvolved(calc, np.random.default_rng(seed))
        np.testing.assert_array_equal(alone, params[0])
        np.testing.assert_allclose(spectrum, unconv[0], rtol=1e-5, atol=1e-7)
