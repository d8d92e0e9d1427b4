"""Access results on disk: ``build/<region>/access/`` written atomically and read back.

Residents go to one ``.npz`` of arrays (fast to reload for a server), places, gaps and
suggestions to GeoJSON (EPSG:4326), the walking-minutes surface beside them, and the options,
info and coverage tables to ``access.json``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from kennai.access.options import AccessOptions
from kennai.access.results import AccessResults
from kennai.atomic import atomic_dir
from kennai.errors import BuildNotFoundError
from kennai.geojson import feature_collection_text
from kennai.i18n import t

#: The folder of a build that holds its access results (to the gathering places).
ACCESS_DIR = "access"


def access_dir(kind: str = "places") -> str:
    """The build folder of one kind of destination's results: ``access`` for the gathering
    places (as always), ``access-<kind>`` beside it for every other kind."""
    return ACCESS_DIR if kind == "places" else f"{ACCESS_DIR}-{kind}"
_FORMAT = 1


def _write_geojson(gdf: gpd.GeoDataFrame | None, path: Path) -> None:
    if gdf is None:
        return
    path.write_text(feature_collection_text(gdf), encoding="utf-8")


def save_access(results: AccessResults, target: Path) -> Path:
    """Write results into ``target`` (``build/<region>/access``) atomically."""
    target = Path(target)
    with atomic_dir(target) as tmp:
        res = results.residents
        xy = shapely.get_coordinates(res.geometry.values)
        np.savez(tmp / "residents.npz", crs=np.array(res.crs.to_wkt()), xy=xy,
                 population=res["population"].to_numpy(float),
                 population_65plus=res["population_65plus"].to_numpy(float),
                 unit_id=res["unit_id"].astype(str).to_numpy(dtype=str),
                 source=res["source"].astype(str).to_numpy(dtype=str),
                 status=res["status"].astype(str).to_numpy(dtype=str),
                 place_id=res["place_id"].astype(str).to_numpy(dtype=str),
                 distance_m=res["distance_m"].to_numpy(float),
                 time_min=res["time_min"].to_numpy(float),
                 straight_m=res["straight_m"].to_numpy(float),
                 snap_m=res["snap_m"].to_numpy(float))
        _write_geojson(results.places, tmp / "places.geojson")
        _write_geojson(results.gaps, tmp / "gaps.geojson")
        _write_geojson(results.suggestions, tmp / "suggestions.geojson")
        if results.surface_path is not None and results.surface_path.is_file():
            shutil.copyfile(results.surface_path, tmp / "surface.tif")
        meta = {"format": _FORMAT, "options": results.options.to_dict(),
                "info": results.info, "coverage": results.coverage,
                "surface": "surface.tif" if (tmp / "surface.tif").is_file() else None}
        (tmp / "access.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1,
                                                    default=_json_default), encoding="utf-8")
    return target


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    return str(x)


def _read_geojson(path: Path, crs: CRS) -> gpd.GeoDataFrame | None:
    if not path.is_file():
        return None
    gdf = gpd.read_file(path, engine="pyogrio")
    return gdf.to_crs(crs) if len(gdf) else gdf.set_crs(crs, allow_override=True)


def load_access(build_dir: Path, *, kind: str = "places") -> AccessResults:
    """Read the results :func:`~kennai.access.pipeline.run_access_for_build` stored under
    ``build_dir/access`` (``build_dir/access-<kind>`` for another kind of destination)."""
    folder = Path(build_dir) / access_dir(kind)
    meta_path = folder / "access.json"
    if not meta_path.is_file():
        raise BuildNotFoundError(t("アクセスの計算結果がまだありません", "no access results yet"),
                                 path=folder, hint=t("kennai build をやり直してください",
                                                     "run kennai build again"))
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    with np.load(folder / "residents.npz", allow_pickle=False) as z:
        crs = CRS.from_wkt(str(z["crs"]))
        residents = gpd.GeoDataFrame(
            {k: z[k] for k in ("population", "population_65plus", "unit_id", "source", "status",
                               "place_id", "distance_m", "time_min", "straight_m", "snap_m")},
            geometry=shapely.points(z["xy"]), crs=crs)
    for col in ("unit_id", "source", "status", "place_id"):
        residents[col] = residents[col].astype(object)
    places = _read_geojson(folder / "places.geojson", crs)
    surface = folder / meta["surface"] if meta.get("surface") else None
    return AccessResults(residents, places, AccessOptions.from_dict(meta["options"]), meta["info"],
                         meta["coverage"], _read_geojson(folder / "gaps.geojson", crs),
                         _read_geojson(folder / "suggestions.geojson", crs), surface)
