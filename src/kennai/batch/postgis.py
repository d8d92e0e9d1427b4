"""Loading a batch's results into PostGIS: one schema, indexed by municipality and district.

``kennai batch … --to postgresql://…`` calls :func:`load_batch` after the run. The schema
(``kennai`` unless told otherwise) holds ``regions`` (one row per municipality, its summary as
JSON), ``districts`` (one row per district of every layer and plan: the coverage row as JSON,
the main figures as columns, the polygon), ``gaps`` and ``splits``, all in EPSG:4326 with GiST
indexes. A load replaces the rows of the municipalities it carries in one transaction, so a
reader sees the old results or the new ones, never half of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from kennai.batch.outputs import SUMMARY, read_dataset
from kennai.errors import ConfigError
from kennai.i18n import t

DEFAULT_SCHEMA = "kennai"
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_DDL = """
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.regions (
    municipality text PRIMARY KEY,
    prefecture text NOT NULL,
    region text NOT NULL UNIQUE,
    title text NOT NULL,
    summary jsonb NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.districts (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    municipality text NOT NULL REFERENCES {schema}.regions ON DELETE CASCADE,
    prefecture text NOT NULL,
    layer text NOT NULL,
    name text NOT NULL,
    population double precision,
    population_65plus double precision,
    median_distance_m double precision,
    row jsonb NOT NULL,
    geom geometry(Geometry, 4326)
);
CREATE INDEX IF NOT EXISTS districts_municipality_district
    ON {schema}.districts (municipality, layer, name);
CREATE INDEX IF NOT EXISTS districts_geom ON {schema}.districts USING gist (geom);
CREATE TABLE IF NOT EXISTS {schema}.gaps (
    municipality text NOT NULL REFERENCES {schema}.regions ON DELETE CASCADE,
    rank integer NOT NULL,
    population double precision,
    props jsonb NOT NULL,
    geom geometry(Geometry, 4326) NOT NULL
);
CREATE INDEX IF NOT EXISTS gaps_municipality ON {schema}.gaps (municipality, rank);
CREATE INDEX IF NOT EXISTS gaps_geom ON {schema}.gaps USING gist (geom);
CREATE TABLE IF NOT EXISTS {schema}.splits (
    municipality text NOT NULL REFERENCES {schema}.regions ON DELETE CASCADE,
    plan text NOT NULL,
    units_layer text NOT NULL,
    name text NOT NULL,
    props jsonb NOT NULL,
    geom geometry(Geometry, 4326)
);
CREATE INDEX IF NOT EXISTS splits_municipality_unit
    ON {schema}.splits (municipality, plan, units_layer, name);
"""


@contextmanager
def connect(url: str) -> Iterator[Any]:
    """A connection to the results database, or a one-line :class:`ConfigError`."""
    try:
        import psycopg
    except ImportError:
        raise ConfigError(t("PostGIS への書き込みには psycopg が必要です",
                            "loading into PostGIS needs psycopg"),
                          hint=t('pip install "kennai[postgis]" を実行してください',
                                 'run pip install "kennai[postgis]"')) from None
    try:
        conn = psycopg.connect(url, connect_timeout=10, application_name="kennai-batch")
    except psycopg.OperationalError as exc:
        raise ConfigError(t("結果のデータベースに接続できません", "cannot connect to the results database"),
                          feature=str(exc).splitlines()[0] if str(exc) else None,
                          hint=t("URL・サーバー・権限を確かめてください",
                                 "check the URL, the server and the role")) from None
    with conn:
        yield conn


def _json(values: dict[str, Any], *, keep: bool = False) -> str:
    """A row as JSON (NaN as null); without ``keep``, the keys stored as columns are left out."""
    dropped = () if keep else ("geometry", "prefecture", "municipality")
    clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in values.items()
             if k not in dropped}
    return json.dumps(clean, ensure_ascii=False, default=str)


def _wkb(geom: Any) -> bytes | None:
    return None if geom is None or geom.is_empty else bytes(geom.wkb)


def load_batch(out_dir: Path, url: str, *, schema: str = DEFAULT_SCHEMA) -> int:
    """Load (or reload) the batch output ``out_dir`` into ``schema``; return the municipalities.

    Raises
    ------
    ConfigError
        When the schema name is not a plain identifier or the database cannot be reached.
    """
    if not _SCHEMA_RE.match(schema):
        raise ConfigError(t(f"スキーマ名「{schema}」は使えません", f"unusable schema name {schema!r}"),
                          feature="schema", hint=t("英小文字・数字・_ にしてください",
                                                   "use lower-case letters, digits and _"))
    summary = pd.read_parquet(Path(out_dir) / f"{SUMMARY}.parquet")
    if not len(summary):
        return 0
    summary = summary.astype({"municipality": str, "prefecture": str})
    codes = summary["municipality"].tolist()
    districts = read_dataset(out_dir, "districts")
    gaps = read_dataset(out_dir, "gaps")
    splits = read_dataset(out_dir, "splits")
    with connect(url) as conn, conn.transaction():
        conn.execute(_DDL.replace("{schema}", schema))
        conn.execute(f"DELETE FROM {schema}.regions WHERE municipality = ANY(%s)", (codes,))
        with conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO {schema}.regions (municipality, prefecture, region, title, summary) "
                "VALUES (%s, %s, %s, %s, %s)",
                [(r["municipality"], r["prefecture"], r["region"], r["title"], _json(r, keep=True))
                 for r in summary.to_dict("records")])
            cur.executemany(
                f"INSERT INTO {schema}.districts (municipality, prefecture, layer, name, population, "
                "population_65plus, median_distance_m, row, geom) VALUES (%s, %s, %s, %s, %s, %s, "
                "%s, %s, ST_GeomFromWKB(%s, 4326))",
                [(r["municipality"], r["prefecture"], r["layer"], r["name"], r["population"],
                  r["population_65plus"], r["median_distance_m"], r["row_json"], _wkb(r["geometry"]))
                 for r in districts.to_dict("records") if r["municipality"] in codes])
            cur.executemany(
                f"INSERT INTO {schema}.gaps (municipality, rank, population, props, geom) VALUES "
                "(%s, %s, %s, %s, ST_GeomFromWKB(%s, 4326))",
                [(r["municipality"], int(r["rank"]), r["population"], _json(r), _wkb(r["geometry"]))
                 for r in gaps.to_dict("records") if r["municipality"] in codes])
            cur.executemany(
                f"INSERT INTO {schema}.splits (municipality, plan, units_layer, name, props, geom) "
                "VALUES (%s, %s, %s, %s, %s, ST_GeomFromWKB(%s, 4326))",
                [(r["municipality"], r["plan"], r["units_layer"], str(r["name"]), _json(r),
                  _wkb(r["geometry"]))
                 for r in splits.to_dict("records") if r["municipality"] in codes])
    return len(codes)
