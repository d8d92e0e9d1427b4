"""The Region: a municipality's checked layers in its analysis CRS, reopened from its build.

A build folder ``build/<region>/`` holds ``region.gpkg`` (every layer and plan), ``network.npz``
(the walk network as arrays, fast to reload), ``dem.tif`` when the region has one, and
``metadata.json`` (inputs and their hashes, CRS, versions, the check report);
:mod:`kennai.build` writes it. :func:`open_region` reopens it for the CLI, the API and the maps,
and the layers load lazily, on first use. Nothing here writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kennai.atomic import current_version
from kennai.config import POLYGON_KINDS, RegionConfig, default_build_dir
from kennai.errors import BuildNotFoundError, NotFoundError
from kennai.findings import Finding, summarise
from kennai.i18n import Text, t

if TYPE_CHECKING:  # geopandas, shapely, pyproj and the network load with the first use, so
    # that reading a build's report (`kennai info`) imports none of them
    import geopandas as gpd
    import shapely
    from pyproj import CRS

    from kennai.network import WalkNetwork

#: The files of a build folder.
GPKG = "region.gpkg"
NETWORK = "network.npz"
DEM = "dem.tif"
METADATA = "metadata.json"


#: Layers of up to this many features are read through GDAL's Arrow stream; larger ones row
#: by row, whose peak memory is lower (500k buildings: 486 against 590 MB, 1.9 against 1.5 s).
ARROW_MAX_FEATURES = 200_000


def _read_build_layer(path: Path, layer: str) -> gpd.GeoDataFrame:
    """One layer of a build's GeoPackage. Through the Arrow stream the frame is the same as
    read row by row (columns, types, geometry bytes, index; checked on every pipeline's
    build) in half the time (Ishigaki's 22,713 buildings: 54-78 -> 26-34 ms)."""
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError, FeatureError, GeometryError

    try:
        small = int(pyogrio.read_info(path, layer=layer)["features"]) <= ARROW_MAX_FEATURES
        return pyogrio.read_dataframe(path, layer=layer, use_arrow=small)
    except (DataSourceError, DataLayerError, FeatureError, GeometryError, OSError) as exc:
        # A build folder damaged since it was written (a copy cut short, a full disk): the
        # cure is a new build, not a bug report.
        raise BuildNotFoundError(
            t(f"build のレイヤ「{layer}」が読めません（{exc}）",
              f"the build's layer {layer!r} cannot be read ({exc})"),
            path=path, feature=layer,
            hint=t("kennai build --force で作り直してください",
                   "rebuild it with kennai build --force")) from None


@dataclass
class Region:
    """A region's checked layers in the analysis CRS.

    Layers are loaded on first use when the region comes from a build, so opening a big
    region for one request stays fast.
    """

    config: RegionConfig
    #: The analysis CRS as given: a ``pyproj.CRS``, or the EPSG code of a reopened build, made a
    #: CRS when :attr:`crs` is first read (so that a report alone never imports pyproj, 50 ms).
    crs_or_epsg: CRS | int
    findings: list[Finding]
    metadata: dict[str, Any]
    build_dir: Path | None = None
    #: The pointer the build was opened through (``build/<region>``), when it was one.
    build_link: Path | None = None
    _layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict, repr=False)
    _plans: dict[str, gpd.GeoDataFrame] = field(default_factory=dict, repr=False)
    _network: WalkNetwork | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def crs(self) -> CRS:
        """The analysis CRS (metric: every distance is measured in it)."""
        if isinstance(self.crs_or_epsg, int):
            from pyproj import CRS

            self.crs_or_epsg = CRS.from_epsg(self.crs_or_epsg)
        return self.crs_or_epsg

    @property
    def layer_names(self) -> list[str]:
        """Kinds of the vector layers this region has (network and DEM excluded)."""
        return list(self.metadata["layers"]) if "layers" in self.metadata else list(self._layers)

    @property
    def plan_names(self) -> list[str]:
        return list(self.metadata["plans"]) if "plans" in self.metadata else list(self._plans)

    def layer(self, kind: str) -> gpd.GeoDataFrame:
        """A layer by kind (``elementary``, ``places`` …) in the analysis CRS."""
        if kind not in self._layers:
            if self.build_dir is None or kind not in self.layer_names:
                raise NotFoundError(
                    t(f"レイヤ「{kind}」はこの地域にありません（あるもの: "
                      f"{', '.join(self.layer_names)}）",
                      f"this region has no layer {kind!r} (it has: "
                      f"{', '.join(self.layer_names)})"),
                    feature=kind, hint=t("設定の layers に追加してください",
                                         "add it to the config's layers"))
            self._layers[kind] = _read_build_layer(self.build_dir / GPKG, kind)
        return self._layers[kind]

    def district_row(self, layer: str, district: str) -> tuple[gpd.GeoDataFrame, int]:
        """The district layer ``layer`` and the row of the district named ``district`` in it.

        Raises
        ------
        NotFoundError
            When ``layer`` is not a district layer or has no district of that name.
        """
        if layer not in POLYGON_KINDS:
            raise NotFoundError(t(f"「{layer}」は区域のレイヤではありません",
                                  f"{layer!r} is not a district layer"), feature=layer,
                                hint=t(f"{' / '.join(POLYGON_KINDS)} のどれかを指定してください",
                                       f"use one of {', '.join(POLYGON_KINDS)}"))
        districts = self.layer(layer)
        hits = (districts["name"].to_numpy() == district).nonzero()[0]
        if not len(hits):
            names = "、".join(districts["name"].astype(str).tolist())
            raise NotFoundError(t(f"区域「{district}」は {layer} にありません",
                                  f"no district {district!r} in {layer}"), feature=district,
                                hint=t(f"あるもの: {names}", f"there are: {names}"))
        return districts, int(hits[0])

    def has_layer(self, kind: str) -> bool:
        return kind in self.layer_names

    def plan(self, name: str) -> gpd.GeoDataFrame:
        """A layer-2 plan's areas (``name`` + polygons) in the analysis CRS."""
        if name not in self._plans:
            if self.build_dir is None or name not in self.plan_names:
                raise NotFoundError(
                    t(f"計画「{name}」はありません（あるもの: {', '.join(self.plan_names)}）",
                      f"no plan {name!r} (there are: {', '.join(self.plan_names)})"),
                    feature=name, hint=t("設定の plans を確認してください",
                                         "check the config's plans"))
            self._plans[name] = _read_build_layer(self.build_dir / GPKG, f"plan__{name}")
        return self._plans[name]

    @property
    def network(self) -> WalkNetwork | None:
        """The walk network, or ``None`` when the region has none."""
        if self._network is None and self.build_dir is not None \
                and (self.build_dir / NETWORK).is_file():
            from kennai.network import WalkNetwork

            self._network = WalkNetwork.load(self.build_dir / NETWORK,
                                             self.metadata.get("network", {}))
        return self._network

    @property
    def dem_path(self) -> Path | None:
        if self.build_dir is not None and (self.build_dir / DEM).is_file():
            return self.build_dir / DEM
        return None

    @cached_property
    def outline(self) -> shapely.Geometry:
        """The region's extent: its ``outline`` layer, else the union of its first district layer
        (or of its census areas), else the network hull, else the hull of its residents' points."""
        import shapely

        for kind in ("outline", *POLYGON_KINDS, "population"):
            if self.has_layer(kind) and self.layer(kind).geom_type.isin(
                    ["Polygon", "MultiPolygon"]).all():
                return shapely.union_all(self.layer(kind).geometry.values)
        net = self.network
        if net is not None:
            return net.hull()
        for kind in ("population", "buildings", "places"):  # points only (a register table)
            if self.has_layer(kind) and len(self.layer(kind)):
                return shapely.convex_hull(shapely.union_all(self.layer(kind).geometry.values))
        raise NotFoundError(t("地域の範囲を決める区域もネットワークもありません",
                              "the region has neither districts nor a network to bound it"),
                            hint=t("小学校区などの面レイヤを追加してください",
                                   "add a district layer"))

    def report(self) -> dict[str, Any]:
        """What `kennai info` prints: layers, counts, CRS and the check report."""
        return {
            "region": self.name,
            "title": self.config.title,
            "title_en": self.config.title_en,
            "crs": self.metadata["crs"],
            "layers": self.metadata["layers"],
            "plans": self.metadata["plans"],
            "network": self.metadata.get("network"),
            "dem": self.metadata.get("dem"),
            "access": self.metadata.get("access"),
            "checks": summarise(self.findings),
            "findings": [f.to_dict() for f in self.findings],
            "build_dir": str(self.build_link or self.build_dir) if self.build_dir else None,
            "built_at": self.metadata.get("built_at"),
        }



def open_region(config: RegionConfig, *, build_dir: Path | None = None) -> Region:
    """Reopen a built region (layers load lazily).

    ``build_dir`` is usually the pointer ``build/<region>`` (a symlink to the current version,
    see :func:`kennai.atomic.versioned_dir`): it is followed once, here, so the region keeps
    reading the version it opened even when a new build is swapped in meanwhile.
    """
    link = build_dir or default_build_dir(config)
    build_dir = current_version(link) or link
    meta_path = build_dir / METADATA
    if not meta_path.is_file():
        raise BuildNotFoundError(
            t("この地域はまだ build されていません", "this region has not been built yet"),
            path=build_dir,
            hint=t(f"先に kennai build {config.path} を実行してください",
                   f"run kennai build {config.path} first"))
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    findings = [Finding(f["level"], f["code"], f["layer"], Text(f["message_ja"], f["message"]),
                        f.get("feature"), f.get("source"), f.get("figures"))
                for f in meta["findings"]]
    return Region(config, int(meta["crs"]["epsg"]), findings, meta,
                  build_dir=build_dir, build_link=link if link != build_dir else None)
