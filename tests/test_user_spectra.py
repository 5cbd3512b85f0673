"""Users' measured spectra (user_spectra): files read, cleaned, checked and rebinned."""

import numpy as np
import pytest
from reference_data import load_reference, reference_path

from exp2simgan_core.io import DataFileError, write_h5
from exp2simgan_core.physics.layout import Layout2D
from exp2simgan_core.user_spectra import load_user_spectrum, read_user_spectrum

SHAPE = (6, 10)


def user_array(shape=SHAPE):
    x = np.random.default_rng(3).random(shape) + 0.1
    x[0, :3] = 0.0  # uncovered, community convention
    return x


def test_user_npy_zeros_become_nan_without_nan(tmp_path):
    x = user_array()
    np.save(tmp_path / "mine.npy", x)
    out = read_user_spectrum(tmp_path / "mine.npy", SHAPE)
    assert out.dtype == np.float32 and out.shape == SHAPE
    np.testing.assert_array_equal(np.isnan(out), x == 0)
    np.testing.assert_allclose(out[x != 0], x[x != 0], rtol=1e-6)


def test_user_npy_with_nan_keeps_zeros_as_intensity(tmp_path):
    x = user_array()
    x[1, 0] = np.nan
    np.save(tmp_path / "mine.npy", x)
    out = read_user_spectrum(tmp_path / "mine.npy", SHAPE)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(x))
    np.testing.assert_array_equal(out[0, :3], 0.0)


def test_user_integer_counts_are_accepted(tmp_path):
    path = tmp_path / "counts.npy"
    np.save(path, np.arange(60, dtype=np.int32).reshape(SHAPE))
    out = read_user_spectrum(path, SHAPE)
    assert out.dtype == np.float32 and np.isnan(out[0, 0]) and out[5, 9] == 59.0


def test_user_small_negatives_are_clipped_large_ones_refused(tmp_path):
    x = user_array()
    x[2, 2] = -0.01 * np.nanmax(x)
    np.save(tmp_path / "small.npy", x)
    assert read_user_spectrum(tmp_path / "small.npy", SHAPE)[2, 2] == 0.0
    x[2, 2] = -0.5 * np.nanmax(x)
    np.save(tmp_path / "large.npy", x)
    with pytest.raises(DataFileError, match="subtract the background"):
        read_user_spectrum(tmp_path / "large.npy", SHAPE)


def test_user_project_hdf5_with_one_spectrum(tmp_path):
    path = tmp_path / "mine.h5"
    x = user_array()[np.newaxis].astype(np.float32)
    x[0, 0, :3] = np.nan  # the project's files mark uncovered pixels NaN
    write_h5(path, {"spectra": x}, {"kind": "user"})
    np.testing.assert_array_equal(read_user_spectrum(path, SHAPE), x[0])
    write_h5(tmp_path / "two.h5", {"spectra": np.concatenate([x, x])}, {})
    with pytest.raises(DataFileError, match="holds 2 spectra; give one"):
        read_user_spectrum(tmp_path / "two.h5", SHAPE)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("wrong.npy", np.ones((4, 10)), r"shape \(4, 10\), expected \(6, 10\)"),
        ("zeros.npy", np.zeros(SHAPE), "every pixel is 0 or NaN"),
        ("nans.npy", np.full(SHAPE, np.nan), "every pixel is 0 or NaN"),
        ("inf.npy", np.where(np.eye(6, 10) > 0, np.inf, 1.0), "6 pixels are infinite"),
        ("negative.npy", -np.ones(SHAPE), "no positive intensity"),
        ("bool.npy", np.ones(SHAPE, bool), "not a real number type"),
        ("complex.npy", np.ones(SHAPE, complex), "not a real number type"),
    ],
)
def test_user_bad_arrays_are_refused(tmp_path, name, content, message):
    np.save(tmp_path / name, content)
    with pytest.raises(DataFileError, match=message):
        read_user_spectrum(tmp_path / name, SHAPE)


def test_user_bad_files_are_refused(tmp_path):
    with pytest.raises(DataFileError, match=r"absent\.npy: no such file"):
        read_user_spectrum(tmp_path / "absent.npy", SHAPE)
    png = tmp_path / "image.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(DataFileError, match=r"unsupported file type '\.png'.*8-bit"):
        read_user_spectrum(png, SHAPE)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataFileError, match=r"objects\.npy: not a readable \.npy array"):
        read_user_spectrum(tmp_path / "objects.npy", SHAPE)
    (tmp_path / "junk.npy").write_bytes(b"junk")
    with pytest.raises(DataFileError, match=r"junk\.npy: not a readable \.npy array"):
        read_user_spectrum(tmp_path / "junk.npy", SHAPE)
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(DataFileError, match=r"empty\.npy: not a readable \.npy array"):
        read_user_spectrum(tmp_path / "empty.npy", SHAPE)
    with open(tmp_path / "archive.npy", "wb") as f:  # np.savez under a .npy name
        np.savez(f, a=np.ones(SHAPE))
    with pytest.raises(DataFileError, match=r"archive\.npy: a \.npz archive, not one \.npy"):
        read_user_spectrum(tmp_path / "archive.npy", SHAPE)


DEMO_LAYOUT = Layout2D(n_pix=16)  # config/demo.yaml: 96 x 160


def paper_array():
    x = np.random.default_rng(5).random((240, 400)) + 0.5
    x[:40, :80] = 0.0  # uncovered (community convention): two whole panels
    x[50, 50] = -0.01  # background-subtraction noise, clipped before rebinning
    return x


def test_user_spectrum_in_the_run_layout_is_read_as_is(tmp_path):
    layout = Layout2D(ei_mev=(35.0,), chopper_hz=(200.0,), n_pix=3, n_ebins=2)
    x = user_array(layout.shape)
    np.save(tmp_path / "mine.npy", x)
    out, attrs = load_user_spectrum(tmp_path / "mine.npy", layout)
    assert attrs == {}
    np.testing.assert_array_equal(out, read_user_spectrum(tmp_path / "mine.npy", layout.shape))


def test_paper_layout_user_spectrum_is_cleaned_then_rebinned_into_the_run_layout(tmp_path):
    x = paper_array()
    np.save(tmp_path / "paper.npy", x)
    out, attrs = load_user_spectrum(tmp_path / "paper.npy", DEMO_LAYOUT)
    assert out.dtype == np.float32 and out.shape == (96, 160)
    assert np.isnan(out[:16, :32]).all() and not np.isnan(out[16:, :]).any()
    assert np.nanmin(out) >= 0.0 and 0.5 < np.nanmean(out) < 1.5
    assert attrs["rebinned_from"] == [240, 400]
    assert attrs["rebin_source_layout"]["n_pix"] == 40 and "rebin" in attrs["rebin_rule"]
    np.testing.assert_array_equal(read_user_spectrum(tmp_path / "paper.npy", DEMO_LAYOUT), out)
    with pytest.raises(DataFileError, match=r"shape \(240, 400\), expected \(96, 160\)"):
        read_user_spectrum(tmp_path / "paper.npy", (96, 160))  # a bare shape: that shape only
    write_h5(tmp_path / "paper.h5", {"spectra": x[np.newaxis].astype(np.float32)}, {})
    assert read_user_spectrum(tmp_path / "paper.h5", DEMO_LAYOUT).shape == (96, 160)


def test_user_spectrum_of_another_shape_is_refused_naming_what_can_be_read(tmp_path):
    np.save(tmp_path / "odd.npy", np.ones((120, 200)))
    with pytest.raises(
        DataFileError,
        match=r"shape \(120, 200\), expected \(96, 160\).*this run's layout or the paper's "
        r"240 x 400 layout \(rebinned",
    ):
        read_user_spectrum(tmp_path / "odd.npy", DEMO_LAYOUT)


def test_paper_layout_user_spectrum_is_refused_for_a_layout_it_does_not_map_onto(tmp_path):
    np.save(tmp_path / "paper.npy", paper_array())
    layout = Layout2D(ei_mev=(60.0,), chopper_hz=(200.0,), n_pix=16)
    with pytest.raises(DataFileError, match=r"paper.npy: .*does not map.*Ei 60 meV is not in"):
        read_user_spectrum(tmp_path / "paper.npy", layout)
    with pytest.raises(DataFileError, match=r"energy bins are not a subset"):
        read_user_spectrum(tmp_path / "paper.npy", Layout2D(n_pix=16, n_ebins=12))


def test_community_240x400_file_reads_with_its_coverage_mask():
    path = reference_path("horace_bestfit_goodenough.npy")
    x = np.load(path)
    out = read_user_spectrum(path, (240, 400))
    uncovered = load_reference("maps_uncovered_mask.npy")
    assert np.isnan(out[uncovered]).all()  # 0 where MAPS has no detector -> NaN
    np.testing.assert_array_equal(np.isnan(out), x == 0)  # and zero-intensity pixels with them
    np.testing.assert_array_equal(out[x != 0], x[x != 0])
    assert 70.0 < np.nanmax(out) < 80.0
    coarse = read_user_spectrum(path, DEMO_LAYOUT)
    assert coarse.shape == (96, 160) and 0.0 < np.isnan(coarse).mean() < np.isnan(out).mean()
    assert np.nanmax(coarse) <= np.nanmax(out)
