"""Reading a batch's results back for the API: from its folder or from PostGIS.

A :class:`ResultsSource` answers what the API's region list, coverage and gaps need for every
region of a batch: :class:`BatchDirResults` reads ``DIR/summary.parquet`` and the GeoParquet
datasets, :class:`PostGISResults` the schema :mod:`kennai.batch.postgis` loaded. Coverage rows
are the rows the build computed, as ``kennai access --by … --json`` prints them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import pandas as pd
import shapely

from kennai.batch.outputs import REGIONS_DIR, SUMMARY, read_dataset, read_task_record
from kennai.errors import InputError, NotFoundError
from kennai.i18n import t


class ResultsSource(Protocol):
    """What the API reads of a batch's results."""

    def regions(self) -> list[dict[str, Any]]:
        """One entry per region: ``name``, ``title``, ``municipality``, ``prefecture`` and its
        ``summary`` row."""
        ...

    def coverage(self, region: str, layer: str, district: str | None = None
                 ) -> list[dict[str, Any]]:
        """The coverage rows of a district layer or plan (one district, or all of them)."""
        ...

    def gaps(self, region: str, *, layer: str = "elementary", district: str | None = None
             ) -> gpd.GeoDataFrame:
        """The region's gap polygons (EPSG:4326); with a district, those touching it."""
        ...


def _no_region(name: str, known: list[str]) -> NotFoundError:
    return NotFoundError(t(f"地域「{name}」はこのバッチにありません", f"this batch has no region {name!r}"),
                         feature=name, hint=t(f"地域: {', '.join(known[:20])}",
                                              f"regions: {', '.join(known[:20])}"))


def _pick_layer(rows: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Rows of ``layer`` (``elementary``, ``layer:elementary``, a plan or ``plan:<name>``)."""
    name = layer.removeprefix("layer:").removeprefix("plan:")
    for key in (layer, f"layer:{name}", f"plan:{name}"):
        picked = rows[rows["layer"] == key]
        if len(picked):
            return picked
    known = ", ".join(sorted(set(rows["layer"])))
    raise NotFoundError(t(f"「{layer}」という区域のレイヤはありません（あるもの: {known}）",
                          f"no district layer {layer!r} (there are: {known})"), feature=layer,
                        hint=t("layer に上のどれかを指定してください", "give layer one of these"))


def _pick_district(rows: pd.DataFrame, layer: str, district: str | None) -> pd.DataFrame:
    if district is None:
        return rows
    picked = rows[rows["name"] == district]
    if not len(picked):
        raise NotFoundError(t(f"{layer} に「{district}」はありません",
                              f"no district {district!r} in {layer}"),
                            feature=district, hint=t("区域の一覧で名称を確認してください",
                                                     "check the names in the district list"))
    return picked


def _coverage_rows(rows: pd.DataFrame, layer: str, district: str | None) -> list[dict[str, Any]]:
    """The stored coverage rows of one layer (and district), as the API gives them."""
    picked = _pick_district(_pick_layer(rows, layer), layer, district)
    return [json.loads(r) for r in picked["row_json"]]


def _touching(gaps: gpd.GeoDataFrame, shape: shapely.Geometry | None) -> gpd.GeoDataFrame:
    if shape is None or not len(gaps):
        return gaps
    return gaps[gaps.geometry.intersects(shape)].reset_index(drop=True)


class BatchDirResults:
    """The results of a batch output folder (``kennai batch … -o DIR``)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = Path(out_dir)
        summary = self.out_dir / f"{SUMMARY}.parquet"
        if not summary.is_file():
            raise InputError(t("バッチの出力ではありません（summary.parquet がありません）",
                               "not a batch output (no summary.parquet)"), path=self.out_dir,
                             hint=t("kennai batch … -o DIR の DIR を指定してください",
                                    "give the DIR of kennai batch … -o DIR"))
        self._summary = pd.read_parquet(summary).astype({"municipality": str, "prefecture": str})

    def code(self, region: str) -> str:
        """The municipality code of a region given by name or code."""
        hit = self._summary[(self._summary["region"] == region)
                            | (self._summary["municipality"] == region)]
        if not len(hit):
            raise _no_region(region, self._summary["region"].tolist())
        return str(hit["municipality"].iloc[0])

    def regions(self) -> list[dict[str, Any]]:
        return [_entry(row) for row in self._summary.to_dict("records")]

    def _districts(self, region: str) -> gpd.GeoDataFrame:
        return read_dataset(self.out_dir, "districts", municipality=self.code(region))

    def coverage(self, region: str, layer: str, district: str | None = None
                 ) -> list[dict[str, Any]]:
        return _coverage_rows(self._districts(region), layer, district)

    def gaps(self, region: str, *, layer: str = "elementary", district: str | None = None
             ) -> gpd.GeoDataFrame:
        gaps = read_dataset(self.out_dir, "gaps", municipality=self.code(region))
        shape = None
        if district is not None:
            picked = _pick_district(_pick_layer(self._districts(region), layer), layer, district)
            shape = picked.geometry.iloc[0]
        return _touching(gaps.drop(columns=["prefecture", "municipality"], errors="ignore"), shape)


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
    return {"name": clean["region"], "title": clean["title"], "municipality": clean["municipality"],
            "prefecture": clean["prefecture"], "summary": clean}


class PostGISResults:
    """The results a batch loaded into PostGIS (``kennai batch … --to postgresql://…``)."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        from kennai.batch.postgis import DEFAULT_SCHEMA, connect

        self.url = url
        self.schema = schema or DEFAULT_SCHEMA
        self._connect = connect

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._connect(self.url) as conn:
            return list(conn.execute(sql.replace("{schema}", self.schema), params).fetchall())

    def _code(self, region: str) -> str:
        hit = self._query("SELECT municipality FROM {schema}.regions WHERE region = %s "
                          "OR municipality = %s", (region, region))
        if not hit:
            names = [r[0] for r in self._query("SELECT region FROM {schema}.regions ORDER BY 1")]
            raise _no_region(region, names)
        return str(hit[0][0])

    def regions(self) -> list[dict[str, Any]]:
        rows = self._query("SELECT summary FROM {schema}.regions ORDER BY municipality")
        return [_entry(dict(r[0])) for r in rows]

    def _districts(self, region: str) -> gpd.GeoDataFrame:
        rows = self._query("SELECT layer, name, row, ST_AsBinary(geom) FROM {schema}.districts "
                           "WHERE municipality = %s ORDER BY seq", (self._code(region),))
        return gpd.GeoDataFrame(
            {"layer": [r[0] for r in rows], "name": [r[1] for r in rows],
             "row_json": [json.dumps(r[2], ensure_ascii=False) for r in rows]},
            geometry=[shapely.from_wkb(bytes(r[3])) if r[3] is not None else None for r in rows],
            crs="EPSG:4326")

    def coverage(self, region: str, layer: str, district: str | None = None
                 ) -> list[dict[str, Any]]:
        return _coverage_rows(self._districts(region), layer, district)

    def gaps(self, region: str, *, layer: str = "elementary", district: str | None = None
             ) -> gpd.GeoDataFrame:
        rows = self._query("SELECT props, ST_AsBinary(geom) FROM {schema}.gaps WHERE "
                           "municipality = %s ORDER BY rank", (self._code(region),))
        gaps = gpd.GeoDataFrame(pd.DataFrame([dict(r[0]) for r in rows]),
                                geometry=[shapely.from_wkb(bytes(r[1])) for r in rows],
                                crs="EPSG:4326")
        shape = None
        if district is not None:
            picked = _pick_district(_pick_layer(self._districts(region), layer), layer, district)
            shape = picked.geometry.iloc[0]
        return _touching(gaps, shape)


def region_in_batch(out_dir: Path, region: str) -> tuple[Path, Path]:
    """The config and build folder of one region of a batch output (by name or code), to serve
    its map beside every region's results.

    Raises
    ------
    NotFoundError
        When the batch has no such region (or it failed).
    """
    source = BatchDirResults(out_dir)
    code = source.code(region)
    record = read_task_record(Path(out_dir), code)
    if record is None or record.get("status") != "ok":
        raise _no_region(region, [e["name"] for e in source.regions()])
    summary = record["summary"]
    return Path(summary["config"]), Path(out_dir) / REGIONS_DIR / str(summary["region"])


def results_source(location: str | Path) -> ResultsSource:
    """The results at ``location``: a ``postgresql://`` URL or a batch output folder."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        return PostGISResults(text)
    return BatchDirResults(Path(text))
