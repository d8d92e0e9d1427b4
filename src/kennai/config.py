"""Region config: a YAML file in ``pipelines/`` turned into a typed model.

A config names the region, its layers (by kind) and their files, and optionally the analysis
CRS. Relative paths are resolved against the YAML file's folder, so a config can be run from
anywhere.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kennai.candidate_kinds import KINDS_BY_KEY, unknown_kinds
from kennai.errors import ConfigError
from kennai.i18n import t

#: The district layers: polygon kinds that can serve as districts (and plans' units).
DistrictKind = Literal["elementary", "junior_high", "neighbourhood"]
#: The layer kinds a region can hold.
KindName = Literal[DistrictKind, "population", "places", "candidates", "buildings", "network", "dem",
                   "outline"]
POLYGON_KINDS: tuple[DistrictKind, ...] = get_args(DistrictKind)
LAYER_KINDS: tuple[KindName, ...] = get_args(KindName)

#: What region, plan and destination names may be (they become folder and URL parts).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Where(_Model):
    """Keep only rows whose ``column`` equals one of ``equals`` or contains ``contains``."""

    column: str
    equals: list[str] | None = None
    contains: str | None = None


class Source(_Model):
    """One input file and how to read it.

    Most fields are optional: readers recognise the usual Japanese schemas (国土数値情報,
    e-Stat 小地域, 推奨データセット CSV) and pick the columns themselves.
    """

    path: Path
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None
    name_column: str | None = None
    id_column: str | None = None
    category: str | None = None
    category_column: str | None = None
    lat_column: str | None = None
    lon_column: str | None = None
    population_column: str | None = None
    population_65plus_column: str | None = None
    households_column: str | None = None
    where: Where | None = None
    osm_tags: dict[str, list[str]] | None = None
    snap_tolerance_m: float | None = Field(default=None, ge=0, le=200)
    #: Population layers: the age table that gives each area its 65+ (see kennai.io.age_tables).
    age_table: Source | None = None

    @property
    def is_osm(self) -> bool:
        """Whether the file is OpenStreetMap data (PBF or XML), by its name: such a file holds
        the network, buildings and places at once and is read by :mod:`kennai.io.osm`."""
        return self.path.name.lower().endswith((".pbf", ".osm", ".osm.xml"))


class LayerConfig(_Model):
    """A layer of the region: one or more sources of the same kind."""

    sources: list[Source]
    title: str | None = None
    attribution: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _single_source(cls, data: Any) -> Any:
        # ``layer: {path: ...}`` is the common case; ``layer: {sources: [...]}`` the general one.
        if isinstance(data, dict) and "sources" not in data:
            # Every field but the sources (title, attribution …) belongs to the layer.
            meta = {k: data[k] for k in cls.model_fields if k != "sources" and k in data}
            src = {k: v for k, v in data.items() if k not in meta}
            return {"sources": [src], **meta}
        if isinstance(data, str | Path):
            return {"sources": [{"path": data}]}
        return data


class DestinationConfig(LayerConfig):
    """A kind of destination besides the gathering places (food shops, bus stops, clinics …).

    Read like the places layer (a file, or OSM tags from a ``.pbf``, through
    :func:`kennai.io.layers.read_points`); access is computed once per kind and stored in the
    build beside the gathering places' results.
    """

    title_en: str | None = None


class PlanConfig(_Model):
    """A layer-2 (第2層) plan: polygons, a table assigning units to areas, or another layer."""

    name: str
    title: str | None = None
    path: Path | None = None
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None
    name_column: str | None = None
    #: For assignment tables: which layer's units the table assigns, and its columns.
    units: str | None = None
    unit_column: str | None = None
    area_column: str | None = None
    #: Use a polygon layer of the region (e.g. ``junior_high``) as the plan.
    from_layer: str | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("plan names use lower-case letters, digits, '_' and '-'")
        return v

    @model_validator(mode="after")
    def _one_form(self) -> PlanConfig:
        if (self.path is None) == (self.from_layer is None):
            raise ValueError("a plan needs exactly one of 'path' or 'from_layer'")
        is_table = self.path is not None and self.path.suffix.lower() in (".csv", ".xlsx")
        if is_table and not (self.units and self.unit_column and self.area_column):
            raise ValueError("an assignment table needs 'units', 'unit_column' and 'area_column'")
        return self


class RegionConfig(_Model):
    """A region: a municipality (or the demo town) and its layers."""

    name: str
    title: str
    title_en: str | None = None
    crs: str = "auto"
    #: JIS prefecture code (1–47); detected from the data when not given.
    prefecture: int | None = Field(default=None, ge=1, le=47)
    attribution: list[str] = Field(default_factory=list)
    layers: dict[str, LayerConfig]
    plans: list[PlanConfig] = Field(default_factory=list)
    #: Kinds of destination besides the gathering places, by name (``food``, ``bus`` …).
    destinations: dict[str, DestinationConfig] = Field(default_factory=dict)
    #: The kinds of candidate site suggestions may pick (``hall``, ``school`` …; see
    #: :mod:`kennai.candidate_kinds`); the default allow-list when not given.
    suggest_kinds: list[str] | None = None
    #: Tolerances for the checks (metres / square metres).
    tiling_tolerance_m2: float = 1000.0
    #: Where the config file lives; set by :func:`load_config`.
    path: Path | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError("region names use lower-case letters, digits, '_' and '-'")
        return v

    @field_validator("layers")
    @classmethod
    def _check_kinds(cls, v: dict[str, LayerConfig]) -> dict[str, LayerConfig]:
        unknown = sorted(set(v) - set(LAYER_KINDS))
        if unknown:
            raise ValueError(f"unknown layer kind(s) {unknown}; known: {list(LAYER_KINDS)}")
        return v

    @field_validator("destinations")
    @classmethod
    def _check_destinations(cls, v: dict[str, DestinationConfig]) -> dict[str, DestinationConfig]:
        bad = sorted(k for k in v if not NAME_RE.match(k) or k == "places")
        if bad:
            raise ValueError(f"destination names use lower-case letters, digits, '_' and '-' "
                             f"and are not 'places': {bad}")
        return v

    @field_validator("suggest_kinds")
    @classmethod
    def _check_suggest_kinds(cls, v: list[str] | None) -> list[str] | None:
        bad = unknown_kinds(v or [])
        if bad:
            raise ValueError(f"unknown candidate kind(s) {bad}; known: {list(KINDS_BY_KEY)}")
        return v

    @model_validator(mode="after")
    def _unique_plans(self) -> RegionConfig:
        names = [p.name for p in self.plans]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"plan names must be unique: {dup}")
        return self

    def input_files(self) -> list[Path]:
        """Every file the region is built from, shapefile sidecars included."""
        files: list[Path] = []
        for layer in self.layers.values():
            for src in layer.sources:
                files.extend(_with_sidecars(src.path))
                if src.age_table is not None:
                    files.append(src.age_table.path)
        for plan in self.plans:
            if plan.path is not None:
                files.extend(_with_sidecars(plan.path))
        for dest in self.destinations.values():
            for src in dest.sources:
                files.extend(_with_sidecars(src.path))
        return files

    def digest(self) -> str:
        """A hash of the config's content (not its location)."""
        dumped = self.model_dump(mode="json", exclude={"path"})
        return hashlib.sha256(repr(sorted(dumped.items())).encode()).hexdigest()


def _with_sidecars(path: Path) -> list[Path]:
    if path.suffix.lower() != ".shp":
        return [path]
    return sorted(p for p in path.parent.glob(path.stem + ".*") if p.is_file())


def _resolve(data: Any, base: Path) -> Any:
    """Resolve every ``path`` value under ``data`` against ``base``."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            if k == "path" and isinstance(v, str):
                out[k] = str((base / v).resolve()) if not Path(v).is_absolute() else v
            else:
                out[k] = _resolve(v, base)
        return out
    if isinstance(data, list):
        return [_resolve(v, base) for v in data]
    return data


class DuplicateKeyError(yaml.YAMLError):
    """A mapping in the YAML names the same key twice (YAML keeps only the last silently)."""

    def __init__(self, key: object, line: int, first_line: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key
        self.line = line
        self.first_line = first_line


class StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a repeated key in a mapping.

    Plain YAML loaders keep the last value: ``layers:`` written twice loses every layer of the
    first block without a word.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise DuplicateKeyError(key, line, seen[key])
            except TypeError:  # an unhashable key: let SafeLoader say so
                break
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path) -> RegionConfig:
    """Read a region config from YAML.

    Parameters
    ----------
    path
        The YAML file.

    Returns
    -------
    RegionConfig
        The validated config, with every file path made absolute.

    Raises
    ------
    ConfigError
        When the file is missing, is not YAML, or does not describe a region.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            t("設定ファイルが見つかりません", "config file not found"),
            path=path,
            hint=t("pipelines/ にある YAML を指定してください",
                   "give a YAML file such as pipelines/demo.yaml"),
        )
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=StrictLoader)
    except DuplicateKeyError as exc:
        raise ConfigError(
            t(f"キー「{exc.key}」が 2 回あります（{exc.first_line} 行目と {exc.line} 行目）。"
              "YAML は後のものだけを残します",
              f"duplicate key {exc.key!r} (lines {exc.first_line} and {exc.line}); YAML would "
              "keep only the last one"),
            path=path, feature=f"line {exc.line}",
            hint=t("1 つにまとめてください", "merge them into one")) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(
            t(f"YAML として読めません ({exc.__class__.__name__})",
              f"not valid YAML ({exc.__class__.__name__})"),
            path=path,
            hint=t("UTF-8 の YAML か確認してください", "check that it is UTF-8 YAML"),
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(t("地域の設定ではありません", "not a region config"), path=path,
                          hint=t("name, title, layers を書いてください",
                                 "it needs name, title and layers"))
    raw = _resolve(raw, path.parent.resolve())
    raw["path"] = str(path.resolve())
    try:
        return RegionConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ConfigError(
            t(f"設定の誤り: {err['msg']}", f"invalid config: {err['msg']}"),
            path=path,
            feature=loc or None,
            hint=t("pipelines/demo.yaml を手本にしてください",
                   "see pipelines/demo.yaml for an example"),
        ) from None


def beside_build(config: RegionConfig, what: str, build_dir: Path | None = None) -> Path:
    """A file kept beside a region's build folder, not in it, so that a rebuild keeps it (the
    register, stored plans): ``<build root>/<region>.<what>``."""
    return (build_dir or default_build_dir(config)).parent / f"{config.name}.{what}"


def default_build_dir(config: RegionConfig, root: Path | None = None) -> Path:
    """Where a region is built: ``$KENNAI_BUILD_ROOT/<region>/`` when that is set, else
    ``build/<region>/`` under ``root`` (default: the current directory)."""
    env = os.environ.get("KENNAI_BUILD_ROOT")
    if env and root is None:
        return Path(env) / config.name
    return (root or Path.cwd()) / "build" / config.name
