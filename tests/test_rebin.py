"""Rebinning a 2D spectrum between layouts (exp2simgan_core.rebin)."""

import doctest

import numpy as np
import pytest

import exp2simgan_core.rebin
from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.rebin import layout_mapping, overlap_lengths, rebin_image

PAPER = Layout2D()
DEMO = Layout2D(n_pix=16)  # config/demo.yaml: 96 x 160
ONE = {"ei_mev": (35.0,), "chopper_hz": (200.0,), "n_ebins": 1}  # one panel
SRC4 = Layout2D(n_pix=4, **ONE)  # centres -1, -1/3, 1/3, 1; width 2/3
DST2 = Layout2D(n_pix=2, hk_max=0.5, **ONE)  # centres -0.5, 0.5; width 1


def test_docstring_example_runs():
    assert doctest.testmod(exp2simgan_core.rebin).failed == 0


def test_same_layout_is_an_exact_copy():
    x = np.random.default_rng(0).random(PAPER.shape).astype(np.float32)
    x[:5, :7] = np.nan
    out = rebin_image(x, PAPER, PAPER)
    assert out is not x and out.dtype == np.float32
    np.testing.assert_array_equal(out, x)


def test_uniform_covered_spectrum_stays_uniform_and_keeps_its_mask_shape():
    x = np.full(PAPER.shape, 2.5, np.float32)
    x[:40, :40] = np.nan  # a whole uncovered panel stays uncovered
    x[100, 200:260] = np.nan  # one uncovered row inside other panels: averaged over
    out = rebin_image(x, PAPER, DEMO)
    assert out.shape == (96, 160) and out.dtype == np.float32
    assert np.isnan(out[:16, :16]).all()
    np.testing.assert_allclose(out[~np.isnan(out)], 2.5, rtol=1e-6)
    assert np.isnan(out).sum() == 16 * 16


def test_overlap_lengths_along_one_axis():
    w = overlap_lengths(SRC4.hk_centres(), SRC4.pixel_width, DST2.hk_centres(), DST2.pixel_width)
    # target [-1, 0] meets source [-4/3, -2/3] over 1/3 and [-2/3, 0] over 2/3; edges touching at
    # 0 do not overlap
    np.testing.assert_allclose(w, [[1 / 3, 2 / 3, 0, 0], [0, 0, 2 / 3, 1 / 3]], atol=1e-12)


def test_area_weighting_of_one_coarse_pixel_by_hand():
    x = np.arange(1.0, 17.0).reshape(4, 4)  # x[0, 0]=1, x[0, 1]=2, x[1, 0]=5, x[1, 1]=6
    out = rebin_image(x, SRC4, DST2)
    # weights (1/3 x 1/3, 1/3 x 2/3, 2/3 x 1/3, 2/3 x 2/3) = (1, 2, 2, 4) / 9
    assert out[0, 0] == pytest.approx((1 * 1 + 2 * 2 + 2 * 5 + 4 * 6) / 9)
    assert out[1, 1] == pytest.approx((4 * 11 + 2 * 12 + 2 * 15 + 1 * 16) / 9)


def test_uncovered_pixels_are_left_out_of_sum_and_weight():
    x = np.arange(1.0, 17.0).reshape(4, 4)
    x[0, 1] = x[1, 0] = np.nan  # half of the pixels under target (0, 0)
    out = rebin_image(x, SRC4, DST2)
    assert out[0, 0] == pytest.approx((1 * 1 + 4 * 6) / 5)  # overlap-weighted mean of the rest
    x[:2, :2] = np.nan
    assert np.isnan(rebin_image(x, SRC4, DST2)[0, 0])  # no covered overlap -> NaN
    assert not np.isnan(rebin_image(x, SRC4, DST2)[1:, :]).any()


def test_a_covered_zero_counts_as_covered():
    x = np.full((4, 4), 8.0)
    x[0, 1] = x[1, 0] = np.nan
    x[0, 0] = 0.0
    out = rebin_image(x, SRC4, DST2)
    assert out[0, 0] == pytest.approx((1 * 0.0 + 4 * 8.0) / 5)
    x[1, 1] = 0.0
    assert rebin_image(x, SRC4, DST2)[0, 0] == 0.0


def test_ei_rows_and_energy_bins_are_picked_from_the_source():
    source = Layout2D(ei_mev=(25.0, 35.0, 50.0), chopper_hz=(300.0, 200.0, 200.0), n_pix=4)
    target = Layout2D(
        ei_mev=(25.0, 50.0 + 1e-9), chopper_hz=(300.0, 200.0), n_pix=4, n_ebins=3, e_lo=0.22
    )
    assert layout_mapping(source, target) == ([0, 2], 2)
    ei_index, bin_index = np.meshgrid(np.arange(3), np.arange(10), indexing="ij")
    panels = np.broadcast_to((100.0 * ei_index + bin_index)[..., None, None], (3, 10, 4, 4))
    out = target.split(rebin_image(source.assemble(panels), source, target))
    assert out.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(out[..., 0, 0], [[2, 3, 4], [202, 203, 204]])
    np.testing.assert_array_equal(out, out[..., :1, :1] * np.ones((4, 4)))
    coarse = Layout2D(ei_mev=(50.0,), chopper_hz=(200.0,), n_pix=2, n_ebins=1, e_lo=0.16)
    np.testing.assert_allclose(rebin_image(source.assemble(panels), source, coarse), 201.0)


def test_demo_layout_from_the_paper_layout_maps_all_rows_and_bins():
    assert layout_mapping(PAPER, DEMO) == ([0, 1, 2, 3, 4, 5], 0)
    smoke = Layout2D(ei_mev=(35.0, 100.0), chopper_hz=(200.0, 300.0), n_pix=8)
    assert layout_mapping(PAPER, smoke) == ([1, 4], 0)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (Layout2D(ei_mev=(60.0,), chopper_hz=(200.0,)), r"Ei 60 meV is not in the source layout"),
        (Layout2D(ei_mev=(35.0,), chopper_hz=(300.0,)), r"chopper frequency is 300 Hz .* 200 Hz"),
        (Layout2D(n_pix=16, e_step=0.03), r"energy bins differ in width"),
        (Layout2D(n_pix=16, e_lo=0.13), r"energy bins are not a subset"),
        (Layout2D(n_pix=16, e_lo=0.22), r"energy bins are not a subset"),  # runs past the last
        (Layout2D(n_pix=16, n_ebins=11), r"energy bins are not a subset"),
        (Layout2D(n_pix=16, hk_max=1.5), r"\(H, K\) range \+-1.5 r.l.u. exceeds"),
    ],
)
def test_unmappable_layouts_are_refused_naming_the_difference(target, message):
    with pytest.raises(ValueError, match=message):
        layout_mapping(PAPER, target)
    with pytest.raises(ValueError, match=message):
        rebin_image(np.ones(PAPER.shape, np.float32), PAPER, target)


def test_image_of_another_shape_is_refused():
    with pytest.raises(ValueError, match=r"image of shape \(96, 160\), the source layout's is"):
        rebin_image(np.ones((96, 160)), PAPER, DEMO)
