"""The 国土地理院 基盤地図情報 DEM reader and mosaic, on the real tile in ../shared/data/gsi_dem/
and on neighbour tiles made here in the same GML layout."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import CRS

from kennai.errors import InputError
from kennai.graph import sample_dem
from kennai.io.gsi_dem import is_gsi_dem, iter_gsi_tiles, read_gsi_dem, write_gsi_mosaic
from tests.conftest import needs_shared, shared

TILE = "FG-GML-5238-74-00-DEM5A-20161001.xml"


def _real_tile() -> Path:
    path = shared("gsi_dem", TILE)
    if not path.is_file():
        pytest.skip(f"the real GSI tile is absent ({path})")
    return path


def _tuples_from_text(text: str) -> list[tuple[str, str]]:
    """The file's ``type,value`` lines, picked out of the XML text with a regex (not the reader)."""
    body = re.search(r"<gml:tupleList>(.*?)</gml:tupleList>", text, re.S)
    assert body is not None
    return [tuple(line.split(",")) for line in body.group(1).split()]  # type: ignore[misc]


def make_dem_xml(mesh: str, lower: tuple[float, float], upper: tuple[float, float], cols: int,
                 rows: int, lines: list[str], start: tuple[int, int] = (0, 0)) -> bytes:
    """A DEM tile in GSI's JPGIS layout (lat-first corners, ``+x-y``, startPoint after the list)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Dataset xsi:schemaLocation="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema FGD_GMLSchema.xsd"
\txmlns:gml="http://www.opengis.net/gml/3.2"
\txmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
\txmlns="http://fgd.gsi.go.jp/spec/2008/FGD_GMLSchema" gml:id="Dataset1">
\t<gml:description>made for kennai's tests</gml:description>
\t<DEM gml:id="DEM001">
\t\t<type>5mメッシュ（標高）</type>
\t\t<mesh>{mesh}</mesh>
\t\t<coverage gml:id="DEM001-3">
\t\t\t<gml:boundedBy><gml:Envelope srsName="fguuid:jgd2011.bl">
\t\t\t\t<gml:lowerCorner>{lower[0]} {lower[1]}</gml:lowerCorner>
\t\t\t\t<gml:upperCorner>{upper[0]} {upper[1]}</gml:upperCorner>
\t\t\t</gml:Envelope></gml:boundedBy>
\t\t\t<gml:gridDomain><gml:Grid dimension="2" gml:id="DEM001-4"><gml:limits><gml:GridEnvelope>
\t\t\t\t<gml:low>0 0</gml:low><gml:high>{cols - 1} {rows - 1}</gml:high>
\t\t\t</gml:GridEnvelope></gml:limits><gml:axisLabels>x y</gml:axisLabels></gml:Grid></gml:gridDomain>
\t\t\t<gml:rangeSet><gml:DataBlock>
\t\t\t\t<gml:rangeParameters><gml:QuantityList uom="DEM構成点"></gml:QuantityList></gml:rangeParameters>
<gml:tupleList>
{chr(10).join(lines)}
</gml:tupleList>
\t\t\t</gml:DataBlock></gml:rangeSet>
\t\t\t<gml:coverageFunction><gml:GridFunction>
\t\t\t\t<gml:sequenceRule order="+x-y">Linear</gml:sequenceRule>
\t\t\t\t<gml:startPoint>{start[0]} {start[1]}</gml:startPoint>
\t\t\t</gml:GridFunction></gml:coverageFunction>
\t\t</coverage>
\t</DEM>
</Dataset>
""".encode()


@needs_shared
def test_real_tile_grid_bounds_and_values() -> None:
    path = _real_tile()
    text = path.read_text(encoding="utf-8")
    lower = [float(v) for v in re.search(r"<gml:lowerCorner>(.*?)<", text).group(1).split()]  # type: ignore[union-attr]
    upper = [float(v) for v in re.search(r"<gml:upperCorner>(.*?)<", text).group(1).split()]  # type: ignore[union-attr]
    lines = _tuples_from_text(text)

    array, transform, crs = read_gsi_dem(path)
    assert array.shape == (150, 225)
    assert crs == CRS.from_epsg(6668)
    west, north = transform @ (0, 0)
    east, south = transform @ (225, 150)
    # Corners are latitude first in the file.
    assert (south, west) == pytest.approx(lower, abs=1e-8)
    assert (north, east) == pytest.approx(upper, abs=1e-8)

    assert array[0, 0] == pytest.approx(float(lines[0][1]), abs=1e-3)
    valued = [i for i, (kind, value) in enumerate(lines)
              if kind != "内水面" and float(value) > -9999]
    last = valued[-1]
    assert array[last // 225, last % 225] == pytest.approx(float(lines[last][1]), abs=1e-3)
    water = next(i for i, (kind, _) in enumerate(lines) if kind == "内水面")
    assert np.isnan(array[water // 225, water % 225])
    assert int(np.isnan(array).sum()) == sum(kind == "内水面" for kind, _ in lines) == 302
    assert is_gsi_dem(path)


def _neighbour_east(real: np.ndarray, *, short_by: int = 0) -> bytes:
    """The tile east of 5238-74-00 (mesh 52387401), made here: it continues the real tile's last
    column with +0.01 m per cell, and may hold fewer values than its grid (``short_by``)."""
    rows, cols = real.shape
    edge = np.where(np.isnan(real[:, -1]), 100.0, real[:, -1])
    values = (edge[:, None] + 0.01 * np.arange(1, cols + 1)[None, :]).ravel()
    lines = [f"地表面,{v:.2f}" for v in values[: values.size - short_by]]
    # upperCorner written with GSI's 9-decimal rounding.
    return make_dem_xml("52387401", (35.25, 138.5125), (35.258333333, 138.525), cols, rows, lines)


@needs_shared
def test_zip_with_a_neighbour_mosaics_without_a_seam(tmp_path: Path) -> None:
    path = _real_tile()
    real, _, _ = read_gsi_dem(path)
    bundle = tmp_path / "PackDLMap.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(path, TILE)
        zf.writestr("FG-GML-5238-74-01-DEM5A-20161001.xml", _neighbour_east(real, short_by=225))
    assert is_gsi_dem(bundle)

    array, transform, _ = read_gsi_dem(bundle)
    assert array.shape == (150, 450)
    west, north = transform @ (0, 0)
    east, south = transform @ (450, 150)
    assert (west, south, east, north) == pytest.approx((138.5, 35.25, 138.525, 35.258333333),
                                                       abs=1e-8)
    np.testing.assert_array_equal(array[:, :225], real)
    # Across the join every row steps by exactly the 0.01 m the neighbour was made with:
    # no column lost, none doubled, no row shifted.
    left = np.where(np.isnan(real[:, -1]), 100.0, real[:, -1])
    np.testing.assert_allclose(array[:-1, 225] - left[:-1], 0.01, atol=2e-3)
    # The neighbour is one row short of its grid: that row is no-data, the rest is there.
    assert np.isnan(array[-1, 225:]).all()
    assert not np.isnan(array[:-1, 225:]).any()


@needs_shared
def test_write_mosaic_geotiff_and_sample_it(tmp_path: Path) -> None:
    path = _real_tile()
    real, _, _ = read_gsi_dem(path)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:  # GSI's bundles hold one zip per mesh
        zf.writestr("FG-GML-5238-74-01-DEM5A-20161001.xml", _neighbour_east(real))
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.write(path, TILE)
        zf.writestr("FG-GML-5238-74-01-DEM5A.zip", inner.getvalue())
    out = write_gsi_mosaic([bundle], tmp_path / "dem.tif")
    with rasterio.open(out) as ds:
        assert (ds.width, ds.height) == (450, 150)
        assert ds.crs.to_epsg() == 6668
        band = ds.read(1, masked=True)
        assert int(band.mask.sum()) == 302
    # A cell centre samples to that cell's value, on both sides of the join.
    step = 0.2 / 3600
    north = 35.25 + 5 / 60 / 10
    xy = np.array([[138.5 + step * 10.5, north - step * 10.5],
                   [138.5 + step * 225.5, north - step * 10.5]])
    z = sample_dem(out, xy, CRS.from_epsg(6668))
    assert z[0] == pytest.approx(real[10, 10], abs=1e-2)
    assert z[1] == pytest.approx(real[10, 224] + 0.01, abs=1e-2)


@needs_shared
def test_bounds_keep_whole_cells(tmp_path: Path) -> None:
    path = _real_tile()
    full, full_transform, _ = read_gsi_dem(path)
    box = (138.5051, 35.2521, 138.5099, 35.2559)
    array, transform, _ = read_gsi_dem(path, bounds=box)
    step = 0.2 / 3600
    assert array.shape == (70, 88)  # the cells the box touches, whole
    west, north = transform @ (0, 0)
    east, south = transform @ (88, 70)
    assert west <= box[0] < west + step and east - step < box[2] <= east
    assert south <= box[1] < south + step and north - step < box[3] <= north
    col, row = ~full_transform @ (west, north)
    r, c = round(row), round(col)
    np.testing.assert_array_equal(array, full[r:r + 70, c:c + 88])
    with pytest.raises(InputError, match="no DEM tile"):
        read_gsi_dem(path, bounds=(139.0, 36.0, 139.1, 36.1))


def test_finer_tiles_win_over_coarser(tmp_path: Path) -> None:
    step5, step10 = 0.2 / 3600, 0.4 / 3600
    fine = make_dem_xml("1", (35.0, 138.0), (35.0 + 2 * step5, 138.0 + 2 * step5), 2, 2,
                        ["地表面,1.0"] * 4)
    coarse = make_dem_xml("2", (35.0, 138.0), (35.0 + step10, 138.0 + 2 * step10), 2, 1,
                          ["地表面,9.0", "表層面,7.0"])
    (tmp_path / "FG-GML-x-DEM5A.xml").write_bytes(fine)
    (tmp_path / "FG-GML-x-DEM10B.xml").write_bytes(coarse)
    array, transform, _ = read_gsi_dem(tmp_path)
    assert transform.a == pytest.approx(step5)
    np.testing.assert_array_equal(array, [[1, 1, 7, 7], [1, 1, 7, 7]])


def test_start_point_and_short_tiles(tmp_path: Path) -> None:
    step = 0.2 / 3600
    xml = make_dem_xml("3", (35.0, 138.0), (35.0 + 2 * step, 138.0 + 3 * step), 3, 2,
                       ["地表面,5.0", "内水面,-9999.", "地表面,-9999."], start=(1, 0))
    (tmp_path / "FG-GML-y-DEM5B.xml").write_bytes(xml)
    (tile,) = list(iter_gsi_tiles(tmp_path / "FG-GML-y-DEM5B.xml"))
    assert tile.kind == "DEM5B"
    expected = np.array([[np.nan, 5.0, np.nan], [np.nan, np.nan, np.nan]])
    np.testing.assert_array_equal(tile.values, expected)


@pytest.mark.parametrize(("content", "message"), [
    (b"<?xml version='1.0'?><Dataset><DEM><mesh>1</mesh></DEM></Dataset>", "it has no"),
    (b"<?xml version='1.0'?><Dataset><DEM><mesh>1</m", "XML syntax error"),
    (None, "do not fit"),
    (None, "is not 'type,value'"),
])
def test_bad_files_raise_one_line(tmp_path: Path, content: bytes | None, message: str) -> None:
    step = 0.2 / 3600
    if content is None and message == "do not fit":
        content = make_dem_xml("4", (35.0, 138.0), (35.0 + step, 138.0 + step), 1, 1,
                               ["地表面,1.0", "地表面,2.0"])
    elif content is None:
        content = make_dem_xml("4", (35.0, 138.0), (35.0 + step, 138.0 + step), 1, 1, ["1.0"])
    bad = tmp_path / "FG-GML-bad-DEM5A.xml"
    bad.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_gsi_dem(bad)
    line = info.value.format("en")
    assert message in line and str(bad) in line and "\n" not in line
    assert info.value.format("ja").startswith(str(bad))


def test_damaged_zip_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "dem.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    assert not is_gsi_dem(broken)
    with pytest.raises(InputError):
        read_gsi_dem(broken)
    with pytest.raises(InputError, match="file not found"):
        read_gsi_dem(tmp_path / "absent.xml")
