"""MAPS detector coverage (physics.coverage): the tube geometry and the coverage mask."""

import numpy as np
import pytest
from reference_data import load_reference

from exp2simgan_core.physics.coverage import (
    MAPS_WINDOWS,
    CoverageModel,
    uncovered_mask,
    uncovered_volume,
    window_hits,
)
from exp2simgan_core.physics.layout import Layout2D, Layout3D

IOU_GOAL = 0.85  # intersection-over-union of uncovered pixels, model vs measured mask


def _direction(horizontal_deg, vertical_deg):
    """Lab direction with projected angles atan(x/z), atan(y/z) in degrees."""
    return np.array([np.tan(np.radians(horizontal_deg)), np.tan(np.radians(vertical_deg)), 1.0])


@pytest.mark.parametrize(
    ("horizontal", "vertical", "hit"),
    [
        (0.0, 0.0, False),  # beam hole
        (10.0, 0.0, True),  # A band, +x
        (-10.0, 0.0, True),  # A band, -x
        (-45.0, 0.0, True),  # high-angle C windows, -x side only
        (45.0, 0.0, False),
        (0.0, 12.0, True),  # B, up
        (12.0, -12.0, True),  # D, corner
        (0.0, 4.0, True),  # E, just above the hole
        (0.0, 30.0, False),  # above the low-angle bank
        (-25.0, 10.0, False),  # beside the high-angle band
    ],
)
def test_detector_directions(horizontal, vertical, hit):
    model = CoverageModel()
    assert bool(model.hits(_direction(horizontal, vertical))) is hit


def test_window_hits_respects_tube_ends():
    a1 = MAPS_WINDOWS[0]  # tubes vertical, half length 0.536 m at 6 m: +-5.1 deg vertically
    inside, outside = _direction(4.0, 4.5), _direction(4.0, 5.5)
    assert window_hits(a1, inside) and not window_hits(a1, outside)
    assert not window_hits(a1, inside, end_mask_m=0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n_sub_hk": 0}, "n_sub_hk"), ({"min_covered_fraction": 0.0}, "min_covered_fraction")],
)
def test_bad_coverage_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CoverageModel(**kwargs)


def test_uncovered_mask_matches_measured_reference():
    reference = load_reference("maps_uncovered_mask.npy")
    model = uncovered_mask(Layout2D())
    assert model.shape == reference.shape == (240, 400) and model.dtype == bool
    iou = (model & reference).sum() / (model | reference).sum()
    assert iou >= IOU_GOAL, f"IoU {iou:.3f} < {IOU_GOAL}"
    assert model.mean() == pytest.approx(reference.mean(), abs=0.02)  # 20.1 % uncovered


def test_other_pixel_counts_and_high_angle_side():
    layout = Layout2D(n_pix=16)
    mask = uncovered_mask(layout)
    assert mask.shape == layout.shape == (96, 160)
    panels = layout.split(mask)  # (n_ei, n_ebins, H, K)
    # Ei = 25 meV, highest energy bin: only the high-angle band reaches |Q| = 1 r.l.u., at +H
    assert not panels[0, -1, -1, 8] and panels[0, -1, 0, 8]
    assert panels[0, :, 0, 0].all()  # Ei = 25 meV: the (-1, -1) corner is beyond 20 degrees
    assert 0.05 < mask.mean() < 0.5


def test_mask_is_a_fresh_copy_and_layout_type_checked():
    layout = Layout2D(ei_mev=(50.0,), chopper_hz=(200.0,), n_pix=8)
    first = uncovered_mask(layout)
    first[:] = ~first
    np.testing.assert_array_equal(uncovered_mask(layout), ~first)
    with pytest.raises(ValueError, match="Layout2D"):
        uncovered_mask(Layout3D(n_pix=8, n_e=4))
    with pytest.raises(ValueError, match="Layout3D"):
        uncovered_volume(layout)


def test_volume_matches_2d_row_of_same_ei():
    layout2d = Layout2D(ei_mev=(140.0,), chopper_hz=(400.0,), n_pix=20)
    layout3d = Layout3D(ei_mev=140.0, chopper_hz=400.0, n_pix=20, n_e=10, e_lo=0.10, e_hi=0.70)
    volume = uncovered_volume(layout3d)
    assert volume.shape == (20, 20, 10) and volume.dtype == bool
    panels = layout2d.split(uncovered_mask(layout2d))[0]  # (n_ebins, H, K)
    agreement = (np.moveaxis(volume, -1, 0) == panels).mean()
    assert agreement >= 0.99  # same geometry; bin edges differ only by rounding
