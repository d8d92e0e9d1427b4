"""kennai fetch against a loopback HTTP server that serves files at the real sources' paths.

Nothing here leaves the machine: a ThreadingHTTPServer on 127.0.0.1 (port 0) serves

- ``/ksj/gml/data/A27/A27-21/A27-21_22_GML.zip`` and the A32 one: made here in the KSJ 2021
  layout (shapefile and GeoJSON, ``A27_001``…``A27_005``) from Yaizu's real district polygons,
  plus one district of another municipality (22213) that the YAML must filter out;
- ``/gis/statmap-search/data?dlserveyId=A002005212020&code=22212&…``: a zip of Yaizu's real
  e-Stat 小地域 shapefile (the 2015 edition, the same format);
- ``/gis/statmap-search/data?statsId=T001082&code=22&downloadType=2``: a made age table in
  e-Stat's layout (Shift_JIS, ``KEY_CODE`` and ``T001082nnn`` columns);
- ``/asia/japan/chubu-latest.osm.pbf`` (and its ``.md5``): a made OSM PBF of the walk network
  around 焼津駅 (from the real OSM-derived edges) with two community centres.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.affinity import translate

from kennai.config import load_config
from kennai.fetch import DownloadError, DownloadProgress, base_urls, fetch_region, plan_downloads
from tests.conftest import needs_shared, shared


@dataclass
class Site:
    """What the loopback server serves, and what it was asked."""

    files: dict[str, bytes] = field(default_factory=dict)
    drop_once: set[str] = field(default_factory=set)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    port: int = 0

    @property
    def bases(self) -> dict[str, str]:
        root = f"http://127.0.0.1:{self.port}"
        return {"ksj": f"{root}/ksj/gml/data", "estat": f"{root}/gis/statmap-search/data",
                "geofabrik": f"{root}/asia/japan"}

    def data_requests(self) -> list[tuple[str, str | None]]:
        return [r for r in self.requests if not r[0].endswith(".md5")]


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            site.requests.append((self.path, rng))
            body = site.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            start = 0
            if rng and self.headers.get("If-Range") in (None, etag):
                start = int(rng.split("=")[1].split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.send_header("ETag", etag)
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if self.path in site.drop_once and start == 0:
                site.drop_once.discard(self.path)
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # cut in the middle of the file
                return
            self.wfile.write(body[start:])

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    """A loopback server, started for the test and stopped after it."""
    served = Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    served.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _shapefile_zip(gdf: gpd.GeoDataFrame, stem: str, tmp: Path, *, geojson: bool = False) -> bytes:
    folder = tmp / stem
    folder.mkdir(parents=True)
    gdf.to_file(folder / f"{stem}.shp", encoding="cp932")
    (folder / f"{stem}.cpg").write_text("SHIFT_JIS")
    files = {f"{stem}/{p.name}": p.read_bytes() for p in sorted(folder.iterdir())}
    if geojson:  # KSJ 2021 zips carry a GeoJSON copy beside the shapefile
        files[f"{stem}/{stem}.geojson"] = gdf.to_json(ensure_ascii=False).encode()
    return _zip(files)


def _ksj(layer: str, prefix: str, name_col: str) -> gpd.GeoDataFrame:
    src = gpd.read_file(next(shared("yaizu", "boundaries", "original_shapefiles", layer).glob("*.shp")),
                        encoding="cp932").to_crs("EPSG:6668")
    names = src[name_col].tolist()
    other = translate(src.geometry.iloc[0], xoff=0.5)  # a district of the next town, made
    return gpd.GeoDataFrame({
        f"{prefix}_001": ["22212"] * len(src) + ["22213"],
        f"{prefix}_002": ["焼津市立"] * len(src) + ["隣町立"],
        f"{prefix}_003": [f"B1222212{i:05d}" for i in range(len(src) + 1)],
        f"{prefix}_004": [*names, "隣町" + names[0][-3:]],
        f"{prefix}_005": ["静岡県焼津市"] * len(src) + ["隣町"],
    }, geometry=[*src.geometry, other], crs="EPSG:6668")


def _pbf(tmp: Path) -> bytes:
    import osmium

    edges = gpd.read_file(shared("yaizu", "network", "yaizu_station_800m_walk_edges_osm.geojson"))
    path = tmp / "made.osm.pbf"
    writer = osmium.SimpleWriter(str(path))
    ids: dict[tuple[float, float], int] = {}
    ways = []
    for geom in edges.geometry:
        refs = []
        for x, y in geom.coords:
            key = (round(x, 7), round(y, 7))
            refs.append(ids.setdefault(key, len(ids) + 1))
        ways.append(refs)
    for (x, y), nid in sorted(ids.items(), key=lambda kv: kv[1]):
        writer.add_node(osmium.osm.mutable.Node(id=nid, location=(x, y)))
    for i, (x, y) in enumerate([(138.3225, 34.8671), (138.318, 34.865)]):
        writer.add_node(osmium.osm.mutable.Node(
            id=10_000_000 + i, location=(x, y),
            tags={"amenity": "community_centre", "name": f"集会所{i + 1}"}))
    for i, refs in enumerate(ways):
        writer.add_way(osmium.osm.mutable.Way(id=i + 1, nodes=refs, tags={"highway": "footway"}))
    writer.close()
    return path.read_bytes()


def _age_table() -> bytes:
    keys = gpd.read_file(next(shared("yaizu", "small_areas", "original_shapefiles").rglob("*.shp")),
                         encoding="cp932")["KEY_CODE"].unique()
    lines = ["KEY_CODE,HYOSYO,CITYNAME,NAME,HTKSYORI,HTKSAKI,GASSAN,T001082001,T001082002",
             ",,,,,,,総数,0～4歳"]
    lines += [f"{k},3,焼津市,,0,,,100,4" for k in keys]
    return ("\r\n".join(lines) + "\r\n").encode("cp932")


@pytest.fixture
def yaizu_site(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Site:
    if not shared("yaizu").is_dir():
        pytest.skip("../shared/data/yaizu is absent")
    tmp = tmp_path_factory.mktemp("served")
    estat_shp = next(shared("yaizu", "small_areas", "original_shapefiles").rglob("*.shp"))
    estat = _zip({p.name: p.read_bytes() for p in estat_shp.parent.glob(estat_shp.stem + ".*")})
    pbf = _pbf(tmp)
    site.files = {
        "/ksj/gml/data/A27/A27-21/A27-21_22_GML.zip": _shapefile_zip(
            _ksj("elementary_school_districts", "A27", "SAFIELD001"), "A27-21_22", tmp, geojson=True),
        "/ksj/gml/data/A32/A32-21/A32-21_22_GML.zip": _shapefile_zip(
            _ksj("junior_high_school_districts", "A32", "item2"), "A32-21_22", tmp),
        "/gis/statmap-search/data?dlserveyId=A002005212020&code=22212&coordSys=1&format=shape"
        "&downloadType=5&datum=2011": estat,
        "/gis/statmap-search/data?statsId=T001082&code=22&downloadType=2":
            _zip({"tblT001082C22.txt": _age_table()}),
        "/asia/japan/chubu-latest.osm.pbf": pbf,
        "/asia/japan/chubu-latest.osm.pbf.md5":
            f"{hashlib.md5(pbf).hexdigest()}  chubu-latest.osm.pbf\n".encode(),
    }
    return site


def test_default_urls_are_the_publishers(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("KENNAI_KSJ_URL", "KENNAI_ESTAT_URL", "KENNAI_GEOFABRIK_URL"):
        monkeypatch.delenv(var, raising=False)
    urls = {d.key: d.url for d in plan_downloads("22212")}
    assert urls == {
        "ksj_a27": "https://nlftp.mlit.go.jp/ksj/gml/data/A27/A27-21/A27-21_22_GML.zip",
        "ksj_a32": "https://nlftp.mlit.go.jp/ksj/gml/data/A32/A32-21/A32-21_22_GML.zip",
        "estat_boundary": "https://www.e-stat.go.jp/gis/statmap-search/data?dlserveyId="
                          "A002005212020&code=22212&coordSys=1&format=shape&downloadType=5&datum=2011",
        "estat_age": "https://www.e-stat.go.jp/gis/statmap-search/data?statsId=T001082&code=22"
                     "&downloadType=2",
        "osm": "https://download.geofabrik.de/asia/japan/chubu-latest.osm.pbf",
    }
    assert plan_downloads("47207")[-1].url.endswith("/asia/japan/kyushu-latest.osm.pbf")
    monkeypatch.setenv("KENNAI_GEOFABRIK_URL", "http://mirror.example/japan/")
    assert base_urls()["geofabrik"] == "http://mirror.example/japan"
    assert base_urls({"ksj": "http://x/"})["ksj"] == "http://x"


@needs_shared
def test_fetch_downloads_records_and_inits(yaizu_site: Site, tmp_path: Path) -> None:
    seen: list[DownloadProgress] = []
    folder = tmp_path / "yaizu"
    result = fetch_region("22212", folder, bases=yaizu_site.bases, progress=seen.append)
    assert all(n > 0 for n in result.downloaded.values()) and len(result.downloaded) == 5
    pbf = result.files["osm"]
    assert pbf == folder / "osm" / "chubu-latest.osm.pbf"
    assert pbf.read_bytes() == yaizu_site.files["/asia/japan/chubu-latest.osm.pbf"]
    last = [p for p in seen if p.filename == "chubu-latest.osm.pbf"][-1]
    assert last.done == last.total == pbf.stat().st_size and last.eta_s == 0
    sources = (folder / "SOURCES.md").read_text(encoding="utf-8")
    for url in (d.url for d in plan_downloads("22212", bases=yaizu_site.bases)):
        assert url in sources
    assert hashlib.sha256(pbf.read_bytes()).hexdigest() in sources
    assert "国土地理院" in sources  # says the DEM cannot be fetched

    cfg = load_config(result.yaml_path)  # type: ignore[arg-type]
    assert cfg.title == "焼津市" and cfg.prefecture == 22
    assert set(cfg.layers) == {"elementary", "junior_high", "population", "places", "network"}
    elementary = cfg.layers["elementary"].sources[0]
    assert elementary.name_column == "A27_004" and elementary.where is not None
    assert (elementary.where.column, elementary.where.equals) == ("A27_001", ["22212"])
    assert [p.name for p in cfg.plans] == ["junior_high"]
    assert any(p.name.startswith("tblT001082") for p, _ in result.unplaced or [])

    # A second run checks what it has and downloads nothing.
    before = len(yaizu_site.requests)
    again = fetch_region("22212", folder, bases=yaizu_site.bases)
    assert set(again.downloaded.values()) == {0}
    assert len(yaizu_site.requests) == before


@needs_shared
@pytest.mark.slow
def test_fetched_folder_builds(yaizu_site: Site, tmp_path: Path) -> None:
    from kennai.build import build_region

    result = fetch_region("22212", tmp_path / "yaizu", bases=yaizu_site.bases)
    region, _ = build_region(load_config(result.yaml_path), build_dir=tmp_path / "build")  # type: ignore[arg-type]
    layers = region.metadata["layers"]
    assert layers["elementary"]["count"] == 13 and layers["junior_high"]["count"] == 9
    assert layers["population"]["population"] == 139462
    assert layers["places"]["count"] == 2
    assert region.crs.to_epsg() == 6676 and region.metadata["access"]["places"] == 2


@needs_shared
def test_a_cut_download_resumes(yaizu_site: Site, tmp_path: Path) -> None:
    path = "/asia/japan/chubu-latest.osm.pbf"
    yaizu_site.drop_once.add(path)
    result = fetch_region("22212", tmp_path / "f", bases=yaizu_site.bases, init=False)
    asked = [rng for p, rng in yaizu_site.data_requests() if p == path]
    size = len(yaizu_site.files[path])
    assert asked == [None, f"bytes={size // 2}-"]  # the second request continued the first
    assert result.files["osm"].read_bytes() == yaizu_site.files[path]


@needs_shared
def test_a_download_left_half_done_resumes_next_run(yaizu_site: Site, tmp_path: Path) -> None:
    folder = tmp_path / "f"
    fetch_region("22212", folder, bases=yaizu_site.bases, init=False)
    zip_path = folder / ".kennai" / "downloads" / "A32-21_22_GML.zip"
    body = zip_path.read_bytes()
    zip_path.unlink()
    part = zip_path.with_name(zip_path.name + ".part")  # as an interrupted run leaves it
    part.write_bytes(body[:1000])
    url = plan_downloads("22212", bases=yaizu_site.bases)[1].url
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    part.with_name(part.name + ".json").write_text(
        json.dumps({"url": url, "validator": etag, "total": len(body)}))
    yaizu_site.requests.clear()
    again = fetch_region("22212", folder, bases=yaizu_site.bases, init=False)
    assert yaizu_site.data_requests() == [("/ksj/gml/data/A32/A32-21/A32-21_22_GML.zip",
                                           "bytes=1000-")]
    assert again.downloaded["ksj_a32"] == len(body) - 1000 and zip_path.read_bytes() == body


@needs_shared
def test_a_corrupt_file_is_one_line_naming_it(yaizu_site: Site, tmp_path: Path) -> None:
    yaizu_site.files["/ksj/gml/data/A32/A32-21/A32-21_22_GML.zip"] = b"<html>maintenance</html>"
    with pytest.raises(DownloadError) as info:
        fetch_region("22212", tmp_path / "f", bases=yaizu_site.bases, init=False)
    line = info.value.format("en")
    assert "A32-21_22_GML.zip" in line and "corrupt" in line and "\n" not in line
    assert not (tmp_path / "f" / ".kennai" / "downloads" / "A32-21_22_GML.zip").exists()
    assert "A32-21_22_GML.zip" in info.value.format("ja")


@needs_shared
def test_a_pbf_whose_md5_does_not_match(yaizu_site: Site, tmp_path: Path) -> None:
    yaizu_site.files["/asia/japan/chubu-latest.osm.pbf.md5"] = b"0" * 32 + b"  x\n"
    with pytest.raises(DownloadError, match="md5") as info:
        fetch_region("22212", tmp_path / "f", bases=yaizu_site.bases, init=False)
    assert "chubu-latest.osm.pbf" in info.value.format("en")


def test_missing_file_and_unknown_code(site: Site, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="HTTP 404") as info:
        fetch_region("22212", tmp_path / "f", bases=site.bases, init=False, retries=0)
    assert "A27-21_22_GML.zip" in info.value.format("en")
    with pytest.raises(Exception, match="no municipality"):
        fetch_region("22999", tmp_path / "g", bases=site.bases)
