"""Spectrum representations: shapes, symmetry, the Horace reference and the Monte Carlo check."""

import dataclasses

import numpy as np
import pytest
import torch
from reference_data import load_reference

from exp2simgan_core.physics.arrays import NumpyArrays, TorchArrays
from exp2simgan_core.physics.formfactor import j0
from exp2simgan_core.physics.instrument import kinematic_qz
from exp2simgan_core.physics.layout import Layout2D, Layout3D
from exp2simgan_core.physics.lswt import UnstableStructureError, s_perp, spin_waves
from exp2simgan_core.physics.models import MODELS
from exp2simgan_core.physics.modes import ZERO_MODE_MEV, ModeField, Twin, twins
from exp2simgan_core.physics.montecarlo import monte_carlo_panel
from exp2simgan_core.physics.spectra import (
    FWHM_PER_SIGMA,
    UNCONVOLVED,
    SpectrumCalculator,
    SpectrumSettings,
    _point_density,
    sub_cell_spread,
)

GOODENOUGH = MODELS["goodenough"]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
RNG = np.random.default_rng(7)
SMALL = Layout2D(n_pix=10, ei_mev=(25.0, 70.0, 140.0), chopper_hz=(300.0, 250.0, 400.0))


def row_correlations(image: np.ndarray, ref: np.ndarray, uncovered: np.ndarray) -> np.ndarray:
    out = []
    for i in range(6):
        rows = slice(40 * i, 40 * (i + 1))
        keep = ~uncovered[rows]
        out.append(np.corrcoef(image[rows][keep], ref[rows][keep])[0, 1])
    return np.array(out)


def test_pair_shapes_mask_and_determinism():
    uncovered = np.zeros(SMALL.shape, bool)
    uncovered[:3, :5] = True
    calc = SpectrumCalculator(GOODENOUGH, SpectrumSettings(layout=SMALL), uncovered)
    unconv, conv = calc.pair(GOODENOUGH.best_fit)
    for image in (unconv, conv):
        assert image.shape == SMALL.shape == (30, 100) and image.dtype == np.float32
        assert np.array_equal(np.isnan(image), uncovered)
        assert np.nanmin(image) >= 0 and np.nanmax(image) > 0
    again = calc.pair(GOODENOUGH.best_fit)
    assert np.array_equal(conv, again[1], equal_nan=True)
    assert np.array_equal(unconv, again[0], equal_nan=True)


def test_convolved_is_smoother_and_keeps_the_weight():
    settings = SpectrumSettings(layout=SMALL, unconvolved="bin_integrated")
    calc = SpectrumCalculator(GOODENOUGH, settings)
    unconv, conv = calc.pair(GOODENOUGH.best_fit)
    # resolution spreads the weight: the convolved image has far fewer empty pixels
    assert (conv > 1e-6).mean() > (unconv > 1e-6).mean() + 0.2
    # weight summed over an Ei row agrees within 15 % (edges of the energy window leak)
    for i in range(3):
        rows = slice(10 * i, 10 * (i + 1))
        assert conv[rows].sum() == pytest.approx(unconv[rows].sum(), rel=0.15)


def test_bin_centre_spectrum_is_the_direct_evaluation_at_the_bin_centres():
    """Pixel (H, K) centre and bin-centre energy, each mode a 1 meV-FWHM Gaussian, L at E_c,
    summed per site with the full 3D Q: an evaluation that shares no code with the calculator's
    grouping of sites or its batching over pixels and bins."""
    fwhm = 1.0
    settings = SpectrumSettings(layout=SMALL, intrinsic_fwhm_mev=fwhm, q_resolution=False)
    calc = SpectrumCalculator(GOODENOUGH, settings)
    unconv, _ = calc.pair(GOODENOUGH.best_fit)
    system = GOODENOUGH.build(GOODENOUGH.best_fit)
    a, b = GOODENOUGH.lattice_ab
    sigma = fwhm / FWHM_PER_SIGMA
    centres = SMALL.hk_centres()
    for i_ei, i_bin, ih, ik in [(0, 3, 2, 7), (1, 0, 5, 5), (2, 6, 0, 9), (0, 9, 8, 1)]:
        ei = SMALL.ei_mev[i_ei]
        edges = SMALL.ebin_edges(ei)
        e_c = 0.5 * (edges[i_bin] + edges[i_bin + 1])
        q_lab = np.array([2 * np.pi * centres[ih] / a, 2 * np.pi * centres[ik] / b])
        qz = float(kinematic_qz(ei, e_c, np.linalg.norm(q_lab)))
        q = np.array([*q_lab, qz])
        expected = 0.0
        for twin in twins(GOODENOUGH, "physical"):
            k_crys = np.zeros((1, 3))
            k_crys[0, :2] = twin.to_crystal @ q_lab
            omega, amp = spin_waves(system, k_crys, "cpu")  # (1, m), (1, m, sites, 3)
            form = np.array([j0(ion, np.linalg.norm(q)) for ion in system.ions])
            phase = np.exp(-1j * qz * system.positions[:, 2])
            total = np.einsum("s,msa->ma", form * phase, amp[0]) @ twin.amplitude_to_lab.T
            weight = s_perp(total, q / np.linalg.norm(q), system.n_sites)
            shape = np.exp(-0.5 * ((e_c - omega[0]) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
            expected += twin.weight * np.sum(np.where(omega[0] > ZERO_MODE_MEV, weight * shape, 0))
        got = unconv[i_ei * SMALL.n_pix + ih, i_bin * SMALL.n_pix + ik]
        assert got == pytest.approx(expected, rel=1e-4, abs=1e-9), (i_ei, i_bin, ih, ik)


def test_a_mode_at_a_bin_centre_appears_and_one_between_centres_does_not():
    edges = np.array([10.0, 11.5, 13.0])  # centres 10.75 and 12.25 meV
    sigma = 0.1 / FWHM_PER_SIGMA

    def density(mode_mev: float) -> np.ndarray:
        field = ModeField(
            omega=np.array([[mode_mev]]),
            amplitudes=np.array([[[[0.0, 0.0, 1.0]]]], dtype=np.complex64),  # along c
            group_z=np.zeros(1),
            group_ions=("Mn4+",),
            q_lab=np.array([[0.5, 0.0]]),  # Q along a: the c amplitude is all perpendicular
            n_sites=1,
        )
        return _point_density(field, Twin(1.0, np.eye(2), np.eye(3), False), 70.0, edges, sigma)

    at_centre = density(10.75)[0]
    peak = float(j0("Mn4+", np.array(0.5))) ** 2 / (sigma * np.sqrt(2 * np.pi))
    assert at_centre[0] == pytest.approx(peak, rel=1e-6)  # 9.39 per meV times the weight
    assert at_centre[1] < 1e-12 * peak
    # 0.75 meV (18 sigma) from each centre: absent from both bins, although inside the first
    assert np.all(density(11.5)[0] < 1e-12 * peak)
    assert np.all(density(11.0)[0] < 1e-7 * peak)  # 0.25 meV = 6 sigma: exp(-18) of the peak


def test_bin_centre_spectra_are_sparse_and_bin_integrated_share_the_convolved_scale():
    calc = {
        kind: SpectrumCalculator(GOODENOUGH, SpectrumSettings(layout=SMALL, unconvolved=kind))
        for kind in ("bin_centre", "bin_integrated")
    }
    centre, conv = calc["bin_centre"].pair(GOODENOUGH.best_fit)
    integrated, conv_again = calc["bin_integrated"].pair(GOODENOUGH.best_fit)
    assert np.array_equal(conv, conv_again)  # the definition changes the unconvolved side only
    threshold = 1e-3 * centre.max()
    assert (centre > threshold).mean() < 0.5 * (integrated > 1e-3 * integrated.max()).mean()


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("convention", ["physical", "horace"])
def test_one_quadrant_of_modes_gives_the_full_grid_spectrum(model, convention):
    """The calculator diagonalises at H, K >= 0 only; on random draws of every model, the full
    grid gives the same spectra (to float32 rounding)."""
    spec = MODELS[model]
    settings = SpectrumSettings(layout=SMALL, convention=convention, q_resolution=False)
    calc = SpectrumCalculator(spec, settings)
    full = SpectrumCalculator(spec, settings)
    full._quadrant = full._from_quadrant = np.arange(len(full.q_lab))
    rng = np.random.default_rng(1)
    compared = 0
    for _ in range(50):
        params = spec.sample(rng)
        try:
            expected = full.pair(params)
        except UnstableStructureError:
            continue
        for got, want in zip(calc.pair(params), expected, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * want.max())
        compared += 1
        if compared == 2:
            break
    assert compared == 2


@pytest.mark.parametrize("unconvolved", UNCONVOLVED)
@pytest.mark.parametrize("model", sorted(MODELS))
def test_unconvolved_alone_equals_the_pair_s(model, unconvolved):
    """Spin waves at the pixel centres only give the pair's unconvolved spectrum."""
    spec = MODELS[model]
    calc = SpectrumCalculator(spec, SpectrumSettings(layout=SMALL, unconvolved=unconvolved))
    rng = np.random.default_rng(4)
    for _ in range(50):
        params = spec.sample(rng)
        try:
            want, _ = calc.pair(params)
        except UnstableStructureError:
            continue
        got = calc.unconvolved(params)
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6 * np.nanmax(want))
        return
    pytest.fail("no stable draw in 50")


@pytest.mark.parametrize("convention", ["physical", "horace"])
def test_symmetric_under_h_and_k_reflection(convention):
    calc = SpectrumCalculator(GOODENOUGH, SpectrumSettings(layout=SMALL, convention=convention))
    _, conv = calc.pair(GOODENOUGH.best_fit)
    panels = SMALL.split(conv)
    np.testing.assert_allclose(panels[..., ::-1, :], panels, rtol=1e-4, atol=1e-6 * conv.max())
    np.testing.assert_allclose(panels[..., :, ::-1], panels, rtol=1e-4, atol=1e-6 * conv.max())


def test_volume_layout():
    layout = Layout3D(ei_mev=70.0, chopper_hz=250.0, n_pix=12, n_e=8)
    unconv, conv = SpectrumCalculator(GOODENOUGH, SpectrumSettings(layout=layout)).pair(
        GOODENOUGH.best_fit
    )
    assert unconv.shape == conv.shape == (12, 12, 8)
    assert conv.max() > 0


def test_settings_are_validated():
    with pytest.raises(ValueError, match="convention"):
        SpectrumSettings(convention="spinw")
    with pytest.raises(ValueError, match="unconvolved"):
        SpectrumSettings(unconvolved="bin_center")
    with pytest.raises(ValueError, match="intrinsic_fwhm_mev"):
        SpectrumSettings(intrinsic_fwhm_mev=0.0)
    with pytest.raises(ValueError, match="oversample"):
        SpectrumSettings(oversample=4)
    with pytest.raises(ValueError, match="parameters"):
        SpectrumCalculator(GOODENOUGH, SpectrumSettings(layout=SMALL)).pair([1.0, 2.0])
    # The energy resolution is read (resins imported) on the first convolved spectrum, before
    # any spin wave is computed; the unconvolved spectrum alone does not need it.
    beyond_maps = SpectrumCalculator(
        GOODENOUGH,
        SpectrumSettings(layout=Layout2D(n_pix=4, ei_mev=(5000.0,), chopper_hz=(300.0,))),
    )
    with pytest.raises(ValueError, match="ei_mev=5000.0"):
        beyond_maps.pair(GOODENOUGH.best_fit)


def test_sub_cell_spread_of_a_linear_dispersion():
    i, j = np.meshgrid(np.arange(9.0), np.arange(9.0), indexing="ij")
    omega = (3.0 * i + 4.0 * j).reshape(-1, 1)
    spread = sub_cell_spread(omega, 9).reshape(9, 9)
    np.testing.assert_allclose(spread, 5.0 / np.sqrt(12.0), rtol=1e-12)


@pytest.mark.slow
def test_horace_convention_matches_the_tobyfit_reference():
    """The authors' Horace/Tobyfit image of the Goodenough best fit (Monte Carlo, 5 points per
    pixel, so its own noise caps the attainable correlation)."""
    ref = load_reference("horace_bestfit_goodenough.npy")
    uncovered = load_reference("maps_uncovered_mask.npy")
    r = {}
    for convention in ("horace", "physical"):
        calc = SpectrumCalculator(GOODENOUGH, SpectrumSettings(convention=convention))
        _, conv = calc.pair(GOODENOUGH.best_fit)
        keep = ~uncovered
        r[convention] = np.corrcoef(conv[keep], ref[keep])[0, 1]
        print(
            convention, round(r[convention], 3), np.round(row_correlations(conv, ref, uncovered), 3)
        )
    assert r["horace"] >= 0.85
    assert r["physical"] < r["horace"]  # the reference was made with the authors' conventions


@pytest.mark.slow
def test_fast_convolution_matches_brute_force_monte_carlo():
    calc = SpectrumCalculator(GOODENOUGH, SpectrumSettings(oversample=3))
    _, conv = calc.pair(GOODENOUGH.best_fit)
    window = (slice(7, 13), slice(23, 29))
    for i_ei, j_bin in [(0, 3), (5, 1)]:
        mc = monte_carlo_panel(calc, GOODENOUGH.best_fit, i_ei, j_bin, 1024, seed=3, window=window)
        fast = Layout2D().panel(conv, i_ei, j_bin)[window]
        rel = np.linalg.norm(fast - mc) / np.linalg.norm(mc)
        print((i_ei, j_bin), "relative L2", round(rel, 4))
        assert rel <= 0.03


@pytest.mark.parametrize(
    "device",
    [
        pytest.param("cpu", id="torch-on-cpu"),
        pytest.param("cuda", marks=(pytest.mark.gpu, CUDA), id="cuda"),
    ],
)
@pytest.mark.parametrize(
    ("model", "unconvolved", "convention"),
    [
        ("goodenough", "bin_centre", "physical"),
        ("goodenough", "bin_integrated", "horace"),
        ("dimer", "bin_integrated", "physical"),
    ],
)
def test_torch_spectra_match_numpy(device, model, unconvolved, convention):
    """The whole spectrum in torch (the simulator's CUDA path: spin waves, intensities,
    broadening and binning on the device) against numpy on the CPU, to 1e-6 of each image's peak,
    and bitwise the same on a rerun."""
    spec = MODELS[model]
    settings = SpectrumSettings(layout=SMALL, unconvolved=unconvolved, convention=convention)
    numpy_calc = SpectrumCalculator(spec, dataclasses.replace(settings, device="cpu"))
    torch_calc = SpectrumCalculator(
        spec, dataclasses.replace(settings, device=device), backend="torch"
    )
    reference = (*numpy_calc.pair(spec.best_fit), numpy_calc.unconvolved(spec.best_fit))
    result = (*torch_calc.pair(spec.best_fit), torch_calc.unconvolved(spec.best_fit))
    for expected, got in zip(reference, result, strict=True):
        assert got.dtype == np.float32 and got.shape == expected.shape
        assert np.max(np.abs(got - expected)) <= 1e-6 * np.max(expected)
    again = torch_calc.pair(spec.best_fit)
    assert all(np.array_equal(a, b) for a, b in zip(again, result[:2], strict=True))


@pytest.mark.parametrize(
    "device",
    [
        pytest.param("cpu", id="torch-on-cpu"),
        pytest.param("cuda", marks=(pytest.mark.gpu, CUDA), id="cuda"),
    ],
)
def test_torch_interpolation_and_binning_match_numpy(device):
    arrays = TorchArrays(device)
    table_x, table_y = np.linspace(0.0, 9.8, 99), np.sqrt(np.linspace(1.0, 5.0, 99))
    x = np.concatenate([[-1.0, 0.0, 9.8, 12.0], table_x[::7], RNG.uniform(-0.5, 10.5, 200)])
    got = arrays.to_numpy(arrays.interp(arrays.asarray(x), table_x, table_y))
    np.testing.assert_allclose(got, np.interp(x, table_x, table_y), rtol=0, atol=1e-14)
    index = RNG.integers(-2, 9, size=(50, 6))  # outside 0..6 is dropped
    values = RNG.uniform(size=(50, 6))
    got = arrays.to_numpy(arrays.bin_sum(arrays.asarray(index), arrays.asarray(values), 7))
    np.testing.assert_allclose(got, NumpyArrays.bin_sum(index, values, 7), rtol=1e-15)
