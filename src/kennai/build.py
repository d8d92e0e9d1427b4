"""Building a region: read every input the config names, check it, project it, write it once.

:func:`build_region` writes ``build/<region>/`` atomically (the files :mod:`kennai.region`
reads) together with the default access results, and reuses an earlier build when its inputs,
config and kennai version are unchanged (:func:`input_hashes`). :func:`load_region` does the
reading and checking alone, without writing anything.
"""

from __future__ import annotations

import errno
import json
import time
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import rasterio
import rasterio.warp
import shapely
from pyproj import CRS

from kennai import __version__
from kennai.access.options import AccessOptions
from kennai.access.pipeline import run_access_for_build
from kennai.atomic import (
    describe_os_error,
    output_errors,
    versioned_dir,
    writable_problem,
)
from kennai.basemap import BASEMAP_FILE, make_basemap
from kennai.checks import (
    TILING_KINDS,
    Finding,
    check_coverage,
    check_duplicate_names,
    check_identical_areas,
    check_outliers,
    check_points_inside,
    check_tiling,
    repair_geometries,
)
from kennai.config import POLYGON_KINDS, PlanConfig, RegionConfig, default_build_dir
from kennai.crs import choose_crs_for_layers
from kennai.dem import check_dem, write_dem
from kennai.errors import CheckError, InputError, OutputError
from kennai.freshness import FORMAT_VERSION, build_is_current, input_hashes
from kennai.graph import speed_for, tobler_factor
from kennai.i18n import t
from kennai.io.layers import read_buildings, read_districts, read_points, read_population
from kennai.io.network import read_network
from kennai.io.osm_pass import shared_pass
from kennai.io.osm_plan import whole_file_reads
from kennai.io.vector import read_vector
from kennai.memory import release_freed_memory
from kennai.network import WalkNetwork
from kennai.plans import read_plan
from kennai.progress import Progress, counted, no_progress
from kennai.region import DEM, GPKG, METADATA, NETWORK, Region, open_region
from kennai.register import (
    RegisterLocation,
    default_register_path,
    register_places,
)


def _versions() -> dict[str, str]:
    out = {"kennai": __version__}
    for pkg in ("geopandas", "shapely", "pyproj", "pyogrio", "osmium", "rasterio", "numpy",
                "scipy"):
        try:
            out[pkg] = importlib_metadata.version(pkg)
        except importlib_metadata.PackageNotFoundError:
            continue
    out["gdal"] = pyogrio.__gdal_version_string__
    return out


def _prefecture(frames: list[pd.DataFrame]) -> int | None:
    """JIS prefecture code found in the data (e-Stat PREF, 国土数値情報 or 推奨データセット codes)."""
    for df in frames:
        for col in ("PREF", "A27_001", "A32_001", "都道府県コード又は市区町村コード", "市区町村コード"):
            if col in df.columns:
                codes = pd.to_numeric(df[col].astype(str).str[:2], errors="coerce").dropna()
                if len(codes) and codes.nunique() == 1 and 1 <= codes.iloc[0] <= 47:
                    return int(codes.iloc[0])
    return None


def _read_layers(config: RegionConfig, progress: Progress, *, osm: bool,
                 clip: shapely.Geometry | None = None) -> dict[str, list[gpd.GeoDataFrame]]:
    """Read the vector sources of every layer in their own CRS: the OSM-file sources when ``osm``
    (clipped to ``clip``, EPSG:4326, while they stream), else all others."""
    parts: dict[str, list[gpd.GeoDataFrame]] = {}
    sources = [(kind, src) for kind, layer_cfg in config.layers.items()
               if kind not in ("network", "dem") for src in layer_cfg.sources if src.is_osm == osm]
    label = (t("OSM の読み込み", "reading OSM") if osm else
             t("レイヤの読み込み", "reading layers")).get()
    for kind, src in counted(progress, label, sources):
        if kind in POLYGON_KINDS:
            gdf = read_districts(src, kind)
        elif kind == "population":
            gdf = read_population(src)
        elif kind in ("places", "candidates"):
            gdf = read_points(src, kind, clip=clip)
        elif kind == "buildings":
            gdf = read_buildings(src, clip=clip)
        else:  # outline: any polygon file, its polygons only
            gdf = read_vector(src.path, layer=src.layer, encoding=src.encoding, crs=src.crs)
            gdf = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])][["geometry"]]
        parts.setdefault(kind, []).append(gdf)
    return parts


def clip_margin_m(options: AccessOptions | None = None) -> float:
    """How far beyond the city line OSM data are kept: the largest walking threshold (people walk
    across the city line), a time threshold taken at the profile's fastest speed (a gentle
    downhill walk is faster than the flat, by Tobler's function)."""
    options = options or AccessOptions()
    fastest = speed_for(options.profile, options.speed_mps) * float(tobler_factor(np.array(-0.05)))
    return max(th.value if th.unit == "m" else th.value * 60.0 * fastest
               for th in options.thresholds)


def _clip_polygon(layers: dict[str, gpd.GeoDataFrame], crs: CRS) -> shapely.Geometry | None:
    """The region's outline (an ``outline`` layer, the district layers, or the census areas'
    hull) buffered by :func:`clip_margin_m`, in EPSG:4326; None when nothing bounds the region."""
    outline = None
    for kind in ("outline", *POLYGON_KINDS):
        if kind in layers and len(layers[kind]):
            outline = shapely.union_all(layers[kind].to_crs(crs).geometry.values)
            break
    if outline is None and "population" in layers and len(layers["population"]):
        outline = shapely.convex_hull(shapely.union_all(layers["population"].to_crs(crs)
                                                        .geometry.values))
    if outline is None:
        return None
    buffered = gpd.GeoSeries([outline.buffer(clip_margin_m())], crs=crs).to_crs("EPSG:4326")
    return buffered.iloc[0]


def _concat(parts: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    crs = parts[0].crs
    gdf = pd.concat([p.to_crs(crs) for p in parts], ignore_index=True)
    return gpd.GeoDataFrame(gdf, geometry="geometry", crs=crs)


def _check_layers(layers: dict[str, gpd.GeoDataFrame], config: RegionConfig
                  ) -> tuple[dict[str, gpd.GeoDataFrame], list[Finding]]:
    findings: list[Finding] = []
    for kind in list(layers):
        gdf = layers[kind]
        if gdf.geom_type.isin(["Polygon", "MultiPolygon"]).any():
            gdf, fixed = repair_geometries(gdf, kind)
            findings += fixed
        if kind in POLYGON_KINDS:
            findings += check_duplicate_names(gdf, kind, level="error")
            findings += check_outliers(gdf, kind)
        elif kind in ("places", "candidates"):
            findings += check_duplicate_names(gdf, kind, level="warning")
            dup_ids = gdf["place_id"][gdf["place_id"].duplicated()]
            for pid in dup_ids.unique():
                findings.append(Finding("error", "duplicate_id", kind,
                                        t("ID が重複しています", "duplicate id"), feature=pid))
        if kind in TILING_KINDS:
            findings += check_tiling(gdf, kind, tolerance_m2=config.tiling_tolerance_m2)
        layers[kind] = gdf
    return layers, findings


def _stop_on_errors(findings: list[Finding], config: RegionConfig) -> None:
    """Raise the first ``error`` finding as a :class:`CheckError` (nothing is written then)."""
    errors = [f for f in findings if f.level == "error"]
    if not errors:
        return
    first = errors[0]
    plans = {f"plan:{p.name}": p.path for p in config.plans if p.path is not None}
    if first.layer in config.layers:
        path = next((s.path for s in config.layers[first.layer].sources), None)
    else:
        path = plans.get(first.layer) or config.path
    raise CheckError(first.message, feature=": ".join(
        x for x in (first.layer, first.feature) if x),
        path=path,
        hint=t("入力を直してから build し直してください（他に "
               f"{len(errors) - 1} 件のエラー）",
               f"fix the input and build again ({len(errors) - 1} more error(s))"))


def load_region(config: RegionConfig, *, progress: Progress = no_progress,
                register: RegisterLocation | None = None
                ) -> tuple[Region, WalkNetwork | None]:
    """Read, check and project every layer of a region (without writing anything).

    ``register`` is the SQLite place register whose active places join the places layer
    (default: :func:`kennai.register.default_register_path`).
    """
    parts = _read_layers(config, progress, osm=False)
    findings: list[Finding] = []
    for kind, kind_parts in parts.items():  # e.g. the age table's 秘匿/合算 areas
        for part in kind_parts:
            findings += part.attrs.pop("findings", [])
        merged = sum(int(p.attrs.get("merged_pieces", 0)) for p in kind_parts)
        if merged:
            findings.append(Finding(
                "info", "merged_pieces", kind,
                t(f"同じコードの小地域の断片 {merged} 件を合算しました（合算）",
                  f"summed {merged} census piece(s) into the unit whose code they share")))
    net_src = config.layers["network"].sources[0] if "network" in config.layers else None
    located = {k: _concat(v) for k, v in parts.items()}
    if not located and net_src is not None:
        from kennai.crs import utm_zone

        # No vector layer to place the region: read the network once in UTM to find it.
        probe = read_network(net_src, utm_zone(135.0, 35.0))
        located = {"network": probe.nodes_frame()}
    osm_read = False
    if not located:
        if not any(src.is_osm for lc in config.layers.values() for src in lc.sources):
            raise InputError(t("レイヤが 1 つもありません", "the config has no layers"),
                             path=config.path, hint=t("layers を書いてください", "add layers"))
        # Only OSM layers: they place the region themselves, so they are read unclipped.
        parts, osm_read = _read_layers(config, progress, osm=True), True
        located = {k: _concat(v) for k, v in parts.items()}
    prefecture = config.prefecture or _prefecture(list(located.values()))
    crs, far = choose_crs_for_layers(config.crs, located, prefecture=prefecture)
    findings += far
    clip = _clip_polygon(located, crs)
    if not osm_read:
        for kind, extra in _read_layers(config, progress, osm=True, clip=clip).items():
            parts.setdefault(kind, []).extend(extra)
    layers = {k: _concat(v) for k, v in parts.items()}
    # Places staff added through the API (the register) are places like any other.
    registered = register_places(register or default_register_path(config))
    if len(registered):
        layers["places"] = _concat([*([layers["places"]] if "places" in layers else []),
                                    registered])
    layers = {k: v.to_crs(crs) for k, v in layers.items()}
    layers, checked = _check_layers(layers, config)
    findings += checked
    # A broken layer (e.g. duplicate district names) is the real cause of any plan error that
    # would follow from it: say so first.
    _stop_on_errors(findings, config)
    findings.insert(0, Finding("info", "crs", "region",
                               t(f"分析用 CRS: {crs.name} (EPSG:{crs.to_epsg()})",
                                 f"analysis CRS: {crs.name} (EPSG:{crs.to_epsg()})")))
    region = Region(config, crs, findings, {}, _layers=layers)
    network = None
    if net_src is not None:
        progress(t("歩行ネットワークの読み込み", "reading the walk network").get())
        network = read_network(net_src, crs, clip=clip if net_src.is_osm else None)
        release_freed_memory()  # the lines' copies made while the network was built
        summary = network.summary()
        if summary["largest_component_length_share"] < 0.9:
            findings.append(Finding(
                "warning", "network_fragmented", "network",
                t(f"ネットワークが {summary['components']} 個に分かれ、最大の部分は延長の "
                  f"{summary['largest_component_length_share']:.0%} です",
                  f"the network has {summary['components']} parts; the largest holds "
                  f"{summary['largest_component_length_share']:.0%} of its length")))
    region._network = network
    bounded = any(k in layers for k in POLYGON_KINDS)
    if bounded:
        for kind in ("places", "candidates"):
            if kind in layers:
                findings += check_points_inside(layers[kind], region.outline, kind)
        if network is not None:
            # A network of another city leaves everyone "off the network": say how little
            # of the region it reaches.
            findings += check_coverage(network.hull(), region.outline, "network", "network_outside")
    for plan in counted(progress, t("第2層の計画", "layer-2 plans").get(), config.plans):
        gdf, plan_findings = read_plan(plan, layers, crs)
        gdf, fixed = repair_geometries(gdf, f"plan:{plan.name}")
        region._plans[plan.name] = gdf
        findings += plan_findings + fixed
        layer = f"plan:{plan.name}"
        if bounded and plan.from_layer is None:
            findings += check_coverage(shapely.union_all(gdf.geometry.values), region.outline,
                                       layer, "plan_outside", error_below=0.01)
        findings += check_identical_areas(gdf, layer)
    _stop_on_errors(findings, config)
    return region, network


def _layer_metadata(config: RegionConfig, kind: str, gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    """What a build records of one layer: count, source files, title, geometry types, people."""
    meta: dict[str, Any] = {
        "count": len(gdf),
        "sources": [s.path.name for s in config.layers[kind].sources],
        "title": config.layers[kind].title,
        "geometry": sorted(gdf.geom_type.unique().tolist()),
    }
    if kind == "population":
        meta["population"] = float(gdf["population"].sum())
        p65 = gdf["population_65plus"]
        meta["population_65plus"] = None if p65.isna().all() else float(p65.sum())
    return meta


def _plan_metadata(plan: PlanConfig, gdf: gpd.GeoDataFrame) -> dict[str, Any]:
    return {"title": plan.title, "areas": len(gdf), "names": gdf["name"].tolist()}


def read_region(config: RegionConfig, *, build_dir: Path | None = None,
                progress: Progress = no_progress, register: RegisterLocation | None = None
                ) -> tuple[Region, WalkNetwork | None]:
    """The reading half of a build: read, check and describe the region, writing nothing.

    The region's metadata holds what a build records of its layers, plans, network and DEM, so
    :meth:`Region.report` reads the same as after a build; there are no access results.

    Raises
    ------
    KennaiError
        On any bad input (the same errors the build stops on).
    """
    build_dir = build_dir or default_build_dir(config)
    region, network = load_region(config, progress=progress,
                                  register=register or default_register_path(config, build_dir))
    _stop_on_errors(region.findings, config)
    region.metadata = {
        "crs": {"epsg": region.crs.to_epsg(), "name": region.crs.name},
        "layers": {kind: _layer_metadata(config, kind, gdf) for kind, gdf in region._layers.items()},
        "plans": {plan.name: _plan_metadata(plan, region._plans[plan.name])
                  for plan in config.plans},
        "network": network.summary() if network is not None else None,
        "dem": check_dem(config, region),
    }
    return region, network


def build_region(
    config: RegionConfig,
    *,
    build_dir: Path | None = None,
    force: bool = False,
    progress: Progress = no_progress,
    register: RegisterLocation | None = None,
) -> tuple[Region, bool]:
    """Build a region into ``build/<region>/`` (or reuse an up-to-date build), with the places of
    ``register`` (default :func:`kennai.register.default_register_path`).

    Returns
    -------
    (Region, bool)
        The region (reopened from the build) and whether it was rebuilt.

    Raises
    ------
    KennaiError
        On any bad input; nothing is written then.
    """
    build_dir = build_dir or default_build_dir(config)
    hashes = input_hashes(config, build_dir, register=register)
    if not force and build_is_current(build_dir, config, hashes):
        return open_region(config, build_dir=build_dir), False
    started = time.perf_counter()
    try:
        with shared_pass(whole_file_reads(config)):  # a file read whole is read once
            loaded = list(read_region(config, build_dir=build_dir, progress=progress,
                                      register=register))
            _write_build(config, loaded, hashes, build_dir, started, progress)
    except (OSError, pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
            rasterio.errors.RasterioError) as exc:
        # GDAL reports a full disk or a read-only folder in its own words: name the cause.
        problem = writable_problem(build_dir.parent)
        if problem is None and "No space left" in str(exc):
            problem = describe_os_error(OSError(errno.ENOSPC, "full", str(build_dir)), build_dir)
        if problem is not None:
            raise problem from None
        if isinstance(exc, OSError):
            with output_errors(build_dir):
                raise
        raise OutputError(t(f"build を書き込めません（{exc}）", f"cannot write the build ({exc})"),
                          path=build_dir, hint=t("空き容量と権限を確かめてください",
                                                 "check the free space and permissions")
                          ) from None
    return open_region(config, build_dir=build_dir), True


def _write_build(config: RegionConfig, loaded: list[Any], hashes: list[dict[str, Any]],
                 build_dir: Path, started: float, progress: Progress) -> None:
    """Write the build into a new version folder and swap ``build_dir`` to it.

    ``loaded`` is ``[region, network]`` as read; :func:`_write_inputs` empties it, so that the
    access run, which reads the region back from the folder, holds the only copy (a
    million-node network and its layers are about a gigabyte).
    """
    with versioned_dir(build_dir) as tmp:
        meta = _write_inputs(config, loaded, hashes, tmp, progress)
        release_freed_memory()  # the region as read, before the copy read back is made
        # Build once, serve many: the default access results are part of the build, computed
        # on the region as reopened from the folder being written.
        meta["access"] = run_access_for_build(open_region(config, build_dir=tmp), tmp,
                                              progress=progress)
        meta["findings"] += meta["access"].pop("findings", [])
        meta["build_seconds"] = round(time.perf_counter() - started, 3)
        _write_metadata(tmp, meta)


def _write_inputs(config: RegionConfig, loaded: list[Any], hashes: list[dict[str, Any]],
                  tmp: Path, progress: Progress) -> dict[str, Any]:
    """Write the region as read (layers, plans, network, DEM, basemap, metadata) into ``tmp``;
    return the metadata."""
    region, network = loaded
    loaded.clear()
    dem = region.metadata["dem"]
    gpkg = tmp / GPKG
    label = t("build の書き込み", "writing the build").get()
    # No R-tree per layer: the build reads its layers back whole, and the index was 1.8 s of
    # writing 500k buildings (`kennai export` writes indexed files for QGIS).
    for kind, gdf in counted(progress, label, list(region._layers.items())):
        gdf.to_file(gpkg, layer=kind, driver="GPKG", engine="pyogrio", SPATIAL_INDEX="NO")
    for plan in config.plans:
        region._plans[plan.name].to_file(gpkg, layer=f"plan__{plan.name}", driver="GPKG",
                                         engine="pyogrio", SPATIAL_INDEX="NO")
    if network is not None:
        # The arrays only: `kennai export --layer network` writes the edges for QGIS when
        # asked (a GeoPackage layer of them took 2.6 s of a 300k-node build, read by nothing).
        network.save(tmp / NETWORK)
    if dem is not None:
        write_dem(config, region, dem, tmp / DEM)
    progress(t("背景地図（水面・鉄道・地名）", "basemap (water, rail, names)").get())
    basemap = make_basemap(config, region)
    if len(basemap):
        basemap.to_parquet(tmp / BASEMAP_FILE)
    meta = {
        "format": FORMAT_VERSION,
        "kennai": __version__,
        "region": config.name,
        "title": config.title,
        "config": str(config.path) if config.path else None,
        "config_digest": config.digest(),
        "inputs": hashes,
        "crs": region.metadata["crs"],
        "layers": region.metadata["layers"],
        "plans": region.metadata["plans"],
        "network": region.metadata["network"],
        "dem": dem,
        "basemap": basemap["kind"].value_counts().to_dict() if len(basemap) else None,
        "versions": _versions(),
        "findings": [f.to_dict() for f in region.findings],
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    _write_metadata(tmp, meta)
    return meta


def _write_metadata(folder: Path, meta: dict[str, Any]) -> None:
    (folder / METADATA).write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str),
                                   encoding="utf-8")

