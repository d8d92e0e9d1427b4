"""A region whose DEM is given as 国土地理院 基盤地図情報 DEM files (JPGIS GML) as GSI ships them:
the build mosaics the tiles covering the region into its own GeoTIFF, and slope then uses it.

The tiles here are made in GSI's layout (`tests/test_gsi_dem.make_dem_xml`) from the demo town's
own elevation, sampled on a 0.4″ (DEM10B-like) lat/lon grid, split in two neighbouring tiles.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import rasterio
import yaml
from pyproj import Transformer

from kennai.build import build_region
from kennai.config import load_config
from kennai.graph import sample_dem
from tests.test_gsi_dem import make_dem_xml

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "pipelines" / "demo.yaml"


def _demo_tiles(folder: Path) -> tuple[Path, np.ndarray]:
    """Two GSI tiles (a zip) covering the demo's DEM, and the elevations they carry."""
    with rasterio.open(ROOT / "data" / "boundaries" / "demo" / "dem.tif") as ds:
        crs, b = ds.crs, ds.bounds
        to_ll = Transformer.from_crs(crs, "EPSG:6668", always_xy=True)
        lon0, lat0 = to_ll.transform(b.left, b.bottom)
        lon1, lat1 = to_ll.transform(b.right, b.top)
        step = 0.4 / 3600
        lon0, lat0 = np.floor(lon0 / step) * step, np.floor(lat0 / step) * step
        cols, rows = int(np.ceil((lon1 - lon0) / step)) + 2, int(np.ceil((lat1 - lat0) / step)) + 2
        half = cols // 2
        back = Transformer.from_crs("EPSG:6668", crs, always_xy=True)
        grids = []
        zpath = folder / "FG-GML-demo-DEM10B.zip"
        with zipfile.ZipFile(zpath, "w") as zf:
            for k, (c0, c1) in enumerate(((0, half), (half, cols))):
                lons = lon0 + (np.arange(c0, c1) + 0.5) * step
                lats = lat0 + (rows - np.arange(rows) - 0.5) * step
                glon, glat = np.meshgrid(lons, lats)
                x, y = back.transform(glon, glat)
                vals = sample_dem(ROOT / "data" / "boundaries" / "demo" / "dem.tif",
                                  np.column_stack([x.ravel(), y.ravel()]), crs)
                vals = np.where(np.isfinite(vals), vals, -9999.0).reshape(glon.shape)
                grids.append(vals)
                lines = [f"地表面,{v:.2f}" if v > -9999 else "データなし,-9999." for v in vals.ravel()]
                xml = make_dem_xml(f"demo{k}", (lat0, lon0 + c0 * step),
                                   (lat0 + rows * step, lon0 + c1 * step), c1 - c0, rows, lines)
                zf.writestr(f"FG-GML-demo{k}-DEM10B-20240101.xml", xml)
    return zpath, np.hstack(grids)


def test_gsi_dem_files_become_the_builds_dem(tmp_path: Path) -> None:
    zpath, grid = _demo_tiles(tmp_path)
    cfg = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    for layer in cfg["layers"].values():
        if "path" in layer:
            layer["path"] = str((DEMO.parent / layer["path"]).resolve())
        for src in layer.get("sources", []):
            src["path"] = str((DEMO.parent / src["path"]).resolve())
    for plan in cfg.get("plans", []):
        if "path" in plan:
            plan["path"] = str((DEMO.parent / plan["path"]).resolve())
    cfg["layers"]["dem"] = {"title": "基盤地図情報 DEM", "path": str(zpath)}
    path = tmp_path / "gsi.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    region, _ = build_region(load_config(path), build_dir=tmp_path / "build" / "demo")
    assert region.metadata["dem"]["format"] == "gsi" and region.metadata["dem"]["tiles"] == 2
    assert region.dem_path is not None
    with rasterio.open(region.dem_path) as ds:
        assert ds.crs.to_epsg() == 6668
        mosaic = ds.read(1)
    valued = grid[grid > -9999]
    # The mosaic holds the tiles' values (cropped to the region), none invented.
    assert np.isin(np.round(mosaic[mosaic > -9999].astype(float), 2), np.round(valued, 2)).all()
    assert mosaic.max() > 20  # the demo's hill is there, so slope uses real terrain
