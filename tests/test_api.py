"""The FastAPI app on a tiny built region: GeoJSON paging, districts, tiles, the register."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import mapbox_vector_tile
import mercantile
import pytest
import shapely
from fastapi.testclient import TestClient

from api import create_app
from kennai.access import load_access
from kennai.build import build_region
from kennai.config import load_config

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
YAIZU = Path(__file__).resolve().parents[1] / "pipelines" / "yaizu.yaml"
TOKEN = "test-token-not-secret"


def _square(west: float, south: float, size: float) -> list[list[list[float]]]:
    return [[[west, south], [west + size, south], [west + size, south + size],
             [west, south + size], [west, south]]]


def _collection(features: list[tuple[dict, dict]]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": p, "geometry": g} for p, g in features]},
        ensure_ascii=False)


def write_tiny_region(folder: Path) -> tuple[Path, Path]:
    """Write and build a two-district town near Yaizu; return (config, build dir)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "elementary.geojson").write_text(_collection([
        ({"name": "西小学校"}, {"type": "Polygon", "coordinates": _square(138.27, 34.84, 0.01)}),
        ({"name": "東小学校"}, {"type": "Polygon", "coordinates": _square(138.28, 34.84, 0.01)}),
    ]), encoding="utf-8")
    (folder / "junior_high.geojson").write_text(_collection([
        ({"name": "港中学校"}, {"type": "Polygon", "coordinates": [[[138.27, 34.84], [138.29, 34.84],
                                                                [138.29, 34.85], [138.27, 34.85],
                                                                [138.27, 34.84]]]}),
    ]), encoding="utf-8")
    (folder / "places.geojson").write_text(_collection([
        ({"name": "ひまわりサロン", "category": "サロン"},
         {"type": "Point", "coordinates": [138.275, 34.845]}),
        ({"name": "公民館体操", "category": "体操"}, {"type": "Point", "coordinates": [138.285, 34.845]}),
    ]), encoding="utf-8")
    config = folder / "tiny.yaml"
    config.write_text(
        "name: tiny\ntitle: テスト町\ntitle_en: Test town\nlayers:\n"
        "  elementary: {path: elementary.geojson, name_column: name}\n"
        "  junior_high: {path: junior_high.geojson, name_column: name}\n"
        "  places: {path: places.geojson, category_column: category}\n"
        "plans:\n  - {name: jh, title: 中学校区案, from_layer: junior_high}\n", encoding="utf-8")
    build_dir = folder / "build"
    build_region(load_config(config), build_dir=build_dir)
    return config, build_dir


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_tiny_region(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def make_client(tiny: tuple[Path, Path], tmp_path: Path):
    def make(token: str | None = TOKEN, register: Path | None = None) -> TestClient:
        app = create_app(tiny[0], build_dir=tiny[1], token=token,
                         register_path=register or tmp_path / "register.sqlite",
                         web_modules=tmp_path / "no_node_modules")
        return TestClient(app)
    return make


AUTH = {"Authorization": f"Bearer {TOKEN}"}
PLACES = "/api/v1/regions/tiny/register/places"


def test_region_summary_and_openapi(make_client) -> None:
    client = make_client()
    regions = client.get("/api/v1/regions").json()
    assert [r["name"] for r in regions] == ["tiny"]
    west, south, east, north = regions[0]["bounds"]
    assert 138.26 < west < east < 138.30 and 34.83 < south < north < 34.86
    assert {layer["kind"] for layer in regions[0]["layers"]} == {"elementary", "junior_high", "places"}
    # Without web/node_modules /docs says how to install Swagger UI (it never falls back to a CDN).
    missing = client.get("/docs")
    assert missing.status_code == 503 and "npm --prefix web ci" in missing.text
    landing = client.get("/", follow_redirects=False)
    assert landing.status_code == 307 and landing.headers["location"] == "/map/"
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "/api/v1/regions/{region}/tiles/{z}/{x}/{y}.mvt" in paths


SWAGGER = Path(__file__).resolve().parents[1] / "web" / "node_modules" / "swagger-ui-dist"


@pytest.mark.skipif(not (SWAGGER / "swagger-ui-bundle.js").is_file(),
                    reason="needs swagger-ui-dist (npm --prefix web ci)")
def test_docs_are_served_from_this_server(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    client = TestClient(create_app(tiny[0], build_dir=tiny[1], register_path=tmp_path / "r.sqlite",
                                   web_modules=SWAGGER.parent))
    docs = client.get("/docs")
    assert docs.status_code == 200
    # Swagger UI from this server (npm swagger-ui-dist), never a CDN: /docs reads offline.
    assert "/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text and "https://" not in docs.text
    assert client.get("/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN: not offered


def test_layer_is_paged_geojson_in_degrees(make_client) -> None:
    client = make_client()
    page = client.get("/api/v1/regions/tiny/layers/elementary", params={"offset": 1, "limit": 1}).json()
    assert page["numberMatched"] == 2 and page["numberReturned"] == 1
    feature = page["features"][0]
    assert feature["id"] == "東小学校"
    lon, lat = feature["geometry"]["coordinates"][0][0]
    assert 138.27 <= lon <= 138.30 and 34.83 <= lat <= 34.86
    assert client.get("/api/v1/regions/tiny/layers/elementary", params={"limit": 0}).status_code == 422


def test_districts_and_errors(make_client) -> None:
    client = make_client()
    names = [d["name"] for d in client.get("/api/v1/regions/tiny/layers/elementary/districts").json()]
    assert names == ["西小学校", "東小学校"]
    one = client.get("/api/v1/regions/tiny/layers/elementary/districts/西小学校").json()
    assert one["features"][0]["id"] == "西小学校"
    assert one["bounds"][0] == pytest.approx(138.27, abs=1e-6)
    missing = client.get("/api/v1/regions/tiny/layers/elementary/districts/北小学校")
    assert missing.status_code == 404 and missing.json()["error"] == "NotFoundError"
    assert client.get("/api/v1/regions/tiny/layers/places/districts").status_code == 404
    assert client.get("/api/v1/regions/tiny/layers/roads").status_code == 404
    assert client.get("/api/v1/regions/other").status_code == 404
    plan = client.get("/api/v1/regions/tiny/plans/jh").json()
    assert [f["id"] for f in plan["features"]] == ["港中学校"]


def test_tiles_and_tilejson(make_client) -> None:
    client = make_client()
    tj = client.get("/api/v1/regions/tiny/tiles.json").json()
    assert tj["tiles"][0].endswith("/api/v1/regions/tiny/tiles/{z}/{x}/{y}.mvt")
    ids = {v["id"] for v in tj["vector_layers"]}
    assert {"elementary", "junior_high", "places", "plans", "district_labels"} <= ids
    tile = mercantile.tile(138.28, 34.845, 12)
    res = client.get(f"/api/v1/regions/tiny/tiles/12/{tile.x}/{tile.y}.mvt")
    assert res.status_code == 200 and res.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    decoded = mapbox_vector_tile.decode(res.content)
    assert sorted(f["properties"]["name"] for f in decoded["elementary"]["features"]) == [
        "東小学校", "西小学校"]
    far = mercantile.tile(0.0, 0.0, 12)
    assert client.get(f"/api/v1/regions/tiny/tiles/12/{far.x}/{far.y}.mvt").status_code == 204
    assert client.get("/api/v1/regions/tiny/tiles/3/9/0.mvt").status_code == 404
    assert client.get("/api/v1/regions/tiny/tiles/23/0/0.mvt").status_code == 422


def test_register_needs_the_token(make_client) -> None:
    body = {"name": "縁側カフェ", "lon": 138.276, "lat": 34.846, "by": "山田"}
    client = make_client()
    assert client.post(PLACES, json=body).status_code == 401
    assert client.post(PLACES, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    disabled = make_client(token=None)
    assert disabled.post(PLACES, json=body, headers=AUTH).status_code == 403
    assert client.get(PLACES).json()["numberMatched"] == 0


def test_register_add_edit_retire_and_restart(make_client, tmp_path: Path) -> None:
    register = tmp_path / "persist.sqlite"
    client = make_client(register=register)
    added = client.post(PLACES, json={"name": "縁側カフェ", "category": "居場所", "lon": 138.276,
                                      "lat": 34.846, "by": "山田"}, headers=AUTH)
    assert added.status_code == 201
    pid = added.json()["place_id"]
    assert added.json()["created_by"] == "山田"
    edited = client.patch(f"{PLACES}/{pid}", json={"weekdays": "火・金", "by": "佐藤"}, headers=AUTH)
    assert edited.json()["weekdays"] == "火,金" and edited.json()["updated_by"] == "佐藤"
    outside = client.post(PLACES, json={"name": "遠く", "lon": 139.7, "lat": 35.7, "by": "x"},
                          headers=AUTH)
    # The region's extent is in the API description, so the body's own validation refuses it.
    assert outside.status_code == 422 and outside.json()["feature"] == "body.lon", outside.text
    assert client.post(PLACES, json={"name": "x", "lon": 138.28, "lat": 34.845, "by": "x",
                                     "path": "/etc/passwd"}, headers=AUTH).status_code == 422

    restarted = make_client(register=register)  # a new app on the same file: a server restart
    listed = restarted.get(PLACES).json()
    assert [f["id"] for f in listed["features"]] == [pid]
    assert listed["features"][0]["geometry"]["coordinates"] == pytest.approx([138.276, 34.846])

    retired = restarted.post(f"{PLACES}/{pid}/retire", json={"by": "山田", "reason": "閉店"},
                             headers=AUTH)
    assert retired.json()["retired_by"] == "山田"
    assert restarted.get(PLACES).json()["numberMatched"] == 0
    assert restarted.get(PLACES, params={"include_retired": True}).json()["numberMatched"] == 1
    assert [e["action"] for e in restarted.get(f"{PLACES}/{pid}/history").json()] == [
        "add", "edit", "retire"]
    again = restarted.patch(f"{PLACES}/{pid}", json={"name": "y", "by": "x"}, headers=AUTH)
    assert again.status_code == 422
    assert restarted.get(f"{PLACES}/register:999").status_code == 404


def test_map_page_says_how_to_install_maplibre(make_client) -> None:
    client = make_client()
    res = client.get("/map/")
    assert res.status_code == 503 and "npm --prefix web ci" in res.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/../../config.py").status_code == 404


@pytest.mark.realdata
@pytest.mark.skipif(not (DATA / "yaizu").is_dir(), reason="needs ../shared/data/yaizu (real data)")
def test_yaizu_districts(tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    build_region(load_config(YAIZU), build_dir=build_dir)
    client = TestClient(create_app(YAIZU, build_dir=build_dir, register_path=tmp_path / "r.sqlite",
                                   token=TOKEN, open_uploads=True))
    names = [d["name"] for d in client.get("/api/v1/regions/yaizu/layers/elementary/districts").json()]
    assert {"焼津東小学校", "焼津西小学校"} <= set(names)
    assert client.get("/api/v1/regions/yaizu/layers/places").json()["numberMatched"] == 28
    assert "roads" in {v["id"] for v in client.get("/api/v1/regions/yaizu/tiles.json").json()[
        "vector_layers"]}
    stored = client.get("/api/v1/regions/yaizu/plans/junior_high/splits").json()
    assert set(stored["summary"]["split_units"]) == {"焼津東小学校", "焼津西小学校"}
    folder = DATA / "yaizu" / "boundaries" / "original_shapefiles" / "junior_high_school_districts"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:  # the city's own Shift_JIS shapefile, zipped
        for part in folder.glob("中学校区.*"):
            zf.write(part, part.name)
    res = client.post("/api/v1/regions/yaizu/splits/upload", params={"units": "elementary"},
                      files={"file": ("中学校区.zip", buf.getvalue(), "application/zip")})
    assert res.status_code == 200, res.text
    assert set(res.json()["summary"]["split_units"]) == {"焼津東小学校", "焼津西小学校"}


def test_upload_limits_and_bad_files(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    client = TestClient(create_app(tiny[0], build_dir=tiny[1], register_path=tmp_path / "r.sqlite",
                                   max_upload_bytes=1000, open_uploads=True))
    url = "/api/v1/regions/tiny/splits/upload"
    big = client.post(url, files={"file": ("plan.geojson", b"x" * 5000, "application/geo+json")})
    assert big.status_code == 413
    bad = client.post(url, files={"file": ("../../etc/passwd", b"not a plan", "application/json")})
    assert bad.status_code == 422 and bad.json()["error"] == "InputError"
    assert "kennai-plan-" not in bad.text and "/tmp" not in bad.text  # no server paths leak
    plan = _collection([  # the line at 138.275 cuts 西小学校 in half
        ({"area": "一圏域"}, {"type": "Polygon", "coordinates": [[
            [138.27, 34.84], [138.275, 34.84], [138.275, 34.85], [138.27, 34.85], [138.27, 34.84]]]}),
        ({"area": "二圏域"}, {"type": "Polygon", "coordinates": [[
            [138.275, 34.84], [138.29, 34.84], [138.29, 34.85], [138.275, 34.85], [138.275, 34.84]]]}),
    ])
    client = TestClient(create_app(tiny[0], build_dir=tiny[1], register_path=tmp_path / "r.sqlite",
                                   open_uploads=True))
    res = client.post(url, params={"name_column": "area"},
                      files={"file": ("plan.geojson", plan.encode(), "application/geo+json")})
    assert res.status_code == 200, res.text
    assert res.json()["summary"]["split_units"] == ["西小学校"]


_FLAT = {"error", "message", "message_ja", "hint", "hint_ja", "path", "feature"}


def _zipped_shapefile(folder: Path, *, prj: bool) -> bytes:
    """The tiny town's two districts as a zipped shapefile in EPSG:6676 (with or without .prj)."""
    import geopandas as gpd

    gdf = gpd.GeoDataFrame({"area": ["西圏域", "東圏域"]}, geometry=[
        shapely.box(138.27, 34.84, 138.275, 34.85), shapely.box(138.275, 34.84, 138.29, 34.85)],
        crs="EPSG:4326").to_crs("EPSG:6676")
    folder.mkdir()
    gdf.to_file(folder / "plan.shp", encoding="utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part in folder.iterdir():
            if prj or part.suffix != ".prj":
                zf.write(part, part.name)
    return buf.getvalue()


def test_upload_errors_speak_to_the_uploader(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    client = TestClient(create_app(tiny[0], build_dir=tiny[1], register_path=tmp_path / "r.sqlite",
                                   open_uploads=True))
    url = "/api/v1/regions/tiny/splits/upload"
    data = _zipped_shapefile(tmp_path / "shp", prj=False)
    res = client.post(url, params={"name_column": "area"},
                      files={"file": ("plan.zip", data, "application/zip")})
    body = res.json()
    assert res.status_code == 422 and body["error"] == "CRSError", body
    assert set(body) == _FLAT and body["path"] == "upload"
    assert ".prj" in body["hint"] and ".prj" in body["hint_ja"] and "crs" in body["hint"]
    assert "config" not in body["hint"] and "設定" not in body["hint_ja"]
    # The crs parameter says what the .prj would have said.
    ok = client.post(url, params={"name_column": "area", "crs": "EPSG:6676"},
                     files={"file": ("plan.zip", data, "application/zip")})
    assert ok.status_code == 200, ok.text
    assert ok.json()["summary"]["split_units"] == ["西小学校"]
    bad_crs = client.post(url, params={"name_column": "area", "crs": "EPSG:999999"},
                          files={"file": ("plan.zip", data, "application/zip")}).json()
    assert bad_crs["error"] == "CRSError" and bad_crs["feature"] == "crs"
    for garbage in (b"not a plan at all", b"PK\x03\x04 broken zip"):
        body = client.post(url, files={"file": ("x.bin", garbage, "application/octet-stream")}).json()
        assert body["message"] == "not a GeoJSON or zipped shapefile", body
        assert body["message_ja"] == "GeoJSON か ZIP 圧縮したシェープファイルとして読めません"
        assert body["path"] == "upload" and "config" not in (body["hint"] or "")
    no_name = client.post(url, files={"file": ("plan.zip", _zipped_shapefile(
        tmp_path / "shp2", prj=True), "application/zip")}).json()
    assert no_name["path"] == "upload" and "name_column" in no_name["hint"]


def test_every_error_has_the_same_flat_shape(make_client) -> None:
    client = make_client()
    body = {"name": "縁側カフェ", "lon": 138.276, "lat": 34.846, "by": "山田"}
    for res, status, error in (
        (client.post(PLACES, json=body), 401, "Unauthorized"),
        (make_client(token=None).post(PLACES, json=body, headers=AUTH), 403, "WritesDisabled"),
        (client.get("/api/v1/regions/tiny/layers/elementary/districts/北小学校"), 404,
         "NotFoundError"),
        (client.get("/api/v1/no/such/route"), 404, "HTTPError"),
    ):
        assert res.status_code == status and set(res.json()) >= _FLAT, res.text
        assert res.json()["error"] == error and res.json()["message_ja"]
    assert client.post(PLACES, json=body).headers["www-authenticate"] == "Bearer"
    # FastAPI's request validation: the parameter is named, in Japanese and English.
    res = client.get("/api/v1/regions/tiny/layers/elementary", params={"limit": 0})
    err = res.json()
    assert res.status_code == 422 and set(err) >= _FLAT and err["error"] == "RequestValidationError"
    assert err["feature"] == "query.limit" and "limit" in err["message"]
    assert "query.limit" in err["message_ja"] and "以上" in err["message_ja"]
    assert isinstance(err["detail"], list) and err["detail"][0]["loc"] == ["query", "limit"]
    missing = client.post(PLACES, json={"lon": 138.276, "lat": 34.846, "by": "山田"},
                          headers=AUTH).json()
    assert missing["feature"] == "body.name" and "必須" in missing["message_ja"]


def test_upload_too_large_is_flat(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    client = TestClient(create_app(tiny[0], build_dir=tiny[1], register_path=tmp_path / "r.sqlite",
                                   max_upload_bytes=1000, open_uploads=True))
    res = client.post("/api/v1/regions/tiny/splits/upload",
                      files={"file": ("plan.geojson", b"x" * 5000, "application/geo+json")})
    assert res.status_code == 413 and set(res.json()) >= _FLAT
    assert res.json()["error"] == "UploadTooLarge" and "1,000" in res.json()["message_ja"]


def test_register_errors_name_no_server_file_and_noop_edits_log_nothing(make_client) -> None:
    client = make_client()
    far = client.post(PLACES, json={"name": "沖", "lon": 0, "lat": 0, "by": "x"}, headers=AUTH)
    assert far.status_code == 422 and far.json()["path"] is None
    assert far.json()["feature"] == "body.lon"
    pid = client.post(PLACES, json={"name": "縁側カフェ", "lon": 138.276, "lat": 34.846, "by": "山田"},
                      headers=AUTH).json()["place_id"]
    before = client.get(f"{PLACES}/{pid}").json()
    for change in ({"by": "佐藤"}, {"name": None, "by": "佐藤"}):
        same = client.patch(f"{PLACES}/{pid}", json=change, headers=AUTH)
        assert same.status_code == 200 and same.json() == before
    assert [e["action"] for e in client.get(f"{PLACES}/{pid}/history").json()] == ["add"]


def test_tile_etag_gives_304(make_client) -> None:
    client = make_client()
    tile = mercantile.tile(138.28, 34.845, 13)
    url = f"/api/v1/regions/tiny/tiles/13/{tile.x}/{tile.y}.mvt"
    first = client.get(url)
    assert first.status_code == 200 and first.headers["cache-control"].startswith("public")
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and not again.content
    assert client.get(url, headers={"If-None-Match": '"old"'}).status_code == 200


def test_split_pieces_geojson_for_upload(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    plan = _collection([
        ({"area": "一"}, {"type": "Polygon", "coordinates": _square(138.27, 34.84, 0.005)}),
        ({"area": "二"}, {"type": "Polygon", "coordinates": [[
            [138.275, 34.84], [138.29, 34.84], [138.29, 34.85], [138.27, 34.85], [138.27, 34.845],
            [138.275, 34.845], [138.275, 34.84]]]}),
    ])
    client = TestClient(create_app(tiny[0], build_dir=tiny[1], register_path=tmp_path / "r.sqlite",
                                   open_uploads=True))
    res = client.post("/api/v1/regions/tiny/splits/upload", params={"name_column": "area", "pieces": True},
                      files={"file": ("plan.geojson", plan.encode(), "application/geo+json")})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["summary"]["split_units"] == ["西小学校"]
    pieces = body["pieces_geojson"]["features"]
    west = [f["properties"] for f in pieces if f["properties"]["unit"] == "西小学校"]
    assert sorted(p["area"] for p in west) == ["一", "二"]
    assert all(p["split"] and p["counted"] for p in west)
    east = [f["properties"] for f in pieces if f["properties"]["unit"] == "東小学校"]
    assert east and not any(p["split"] for p in east)
    lon, lat = pieces[0]["geometry"]["coordinates"][0][0]
    assert 138.26 < lon < 138.30 and 34.83 < lat < 34.86
    assert "pieces_geojson" not in client.get("/api/v1/regions/tiny/plans/jh/splits").json()


def test_access_endpoints_without_results(make_client) -> None:
    client = make_client()
    for path in ("access", "access/coverage", "access/legend", "access/tiles/12/3640/1622.png",
                 "access/gaps", "access/nearest?lon=138.28&lat=34.845"):
        res = client.get(f"/api/v1/regions/tiny/{path}")
        assert res.status_code == 404 and res.json()["feature"].startswith("access"), path


DEMO = Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml"


@pytest.fixture(scope="module")
def demo_client(demo, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """The demo town as built (with its access results) by the session's ``demo`` fixture."""
    tmp = tmp_path_factory.mktemp("demo-register")
    return TestClient(create_app(DEMO, build_dir=demo.build_dir, register_path=tmp / "r.sqlite"))


def test_access_coverage_gaps_nearest_and_surface_tiles(demo_client: TestClient) -> None:
    client = demo_client
    base = "/api/v1/regions/demo/access"
    rows = client.get(f"{base}/coverage", params={"layer": "elementary"}).json()
    districts = client.get("/api/v1/regions/demo/layers/elementary/districts").json()
    assert [r["name"] for r in rows] == [d["name"] for d in districts]
    name = rows[0]["name"]
    one = client.get(f"{base}/coverage", params={"layer": "elementary", "district": name}).json()
    assert one == [rows[0]]
    row = one[0]
    assert row["population"] > 0 and "no_network_population" in row
    shares = [row["coverage"][k] for k in ("250m", "500m", "1000m")]
    assert all(0 <= s <= 1 for s in shares) and shares == sorted(shares)
    missing = client.get(f"{base}/coverage", params={"layer": "elementary", "district": "無い"})
    assert missing.status_code == 404

    region_gaps = client.get(f"{base}/gaps", params={"threshold": 250}).json()
    gaps = client.get(f"{base}/gaps", params={"layer": "elementary", "district": name,
                                              "threshold": 250}).json()
    assert gaps["type"] == "FeatureCollection" and gaps["threshold_m"] == 250
    assert 0 < gaps["numberMatched"] <= region_gaps["numberMatched"]
    assert {"rank", "population"} <= set(gaps["features"][0]["properties"])
    west, south, east, north = gaps["bounds"]
    lon, lat = shapely.geometry.shape(gaps["features"][0]["geometry"]).representative_point().coords[0]
    assert west - 0.01 < lon < east + 0.01 and south - 0.01 < lat < north + 0.01
    assert client.get(f"{base}/gaps", params={"threshold": 10}).status_code == 422

    legend = client.get(f"{base}/legend").json()
    assert [c["max"] for c in legend["classes"]] == [5, 10, 15, 20, None]
    w, s, e, n = legend["bounds"]
    cx, cy = (w + e) / 2, (s + n) / 2
    # A click on a stored resident location gives exactly that location's stored walk.
    results = load_access(demo_client.app.state.kennai.region.build_dir)
    res = results.residents[results.residents["status"] == "ok"].to_crs(4326)
    for i in (0, len(res) // 2, len(res) - 1):
        row = res.iloc[i]
        near = client.get(f"{base}/nearest", params={"lon": row.geometry.x,
                                                    "lat": row.geometry.y}).json()
        assert near["status"] == "ok" and near["place"]["place_id"] == row["place_id"]
        assert near["distance_m"] == pytest.approx(row["distance_m"], abs=0.2)
        assert near["time_min"] == pytest.approx(row["time_min"], abs=0.06)
    far = client.get(f"{base}/nearest", params={"lon": 0.0, "lat": 0.0}).json()
    assert far["status"] == "no_network" and far["place"] is None and far["time_min"] is None

    tile = mercantile.tile(cx, cy, 14)
    png = client.get(f"{base}/tiles/14/{tile.x}/{tile.y}.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert client.get(f"{base}/tiles/14/0/0.png").status_code == 204
    assert "gaps" in {v["id"] for v in client.get("/api/v1/regions/demo/tiles.json").json()[
        "vector_layers"]}


def test_export_tiles_cli(tiny: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                          ) -> None:
    from pmtiles.reader import MmapSource, Reader
    from typer.testing import CliRunner

    from kennai.cli import app

    monkeypatch.chdir(tmp_path)  # the command builds into build/<region> under the working dir
    monkeypatch.delenv("KENNAI_BUILD_ROOT", raising=False)  # … unless this points elsewhere
    out = tmp_path / "tiny.pmtiles"
    res = CliRunner().invoke(app, ["export-tiles", str(tiny[0]), "-o", str(out), "--minzoom", "11",
                                   "--maxzoom", "13"])
    assert res.exit_code == 0, res.output
    served = TestClient(create_app(tiny[0], build_dir=tmp_path / "build" / "tiny",
                                   register_path=tmp_path / "r.sqlite"))
    tile = mercantile.tile(138.28, 34.845, 13)
    with open(out, "rb") as f:
        stored = Reader(MmapSource(f)).get(13, tile.x, tile.y)
    assert stored == served.get(f"/api/v1/regions/tiny/tiles/13/{tile.x}/{tile.y}.mvt").content


def test_treasure_map_endpoint(demo_client: TestClient) -> None:
    url = "/api/v1/regions/demo/treasure-map"
    name = demo_client.get("/api/v1/regions/demo/layers/elementary/districts").json()[0]["name"]
    pdf = demo_client.get(url, params={"district": name, "format": "pdf", "walk_minutes": 10})
    if pdf.status_code == 422 and pdf.json()["error"] == "TreasureMapError":
        pytest.skip(f"no Japanese font on this machine: {pdf.json()['message']}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''" in pdf.headers["content-disposition"]
    html = demo_client.get(url, params={"district": name, "format": "html"})
    assert html.status_code == 200 and name in html.text
    assert re.search(r'<(script|link)[^>]+(src|href)="https?://', html.text) is None  # offline
    assert demo_client.get(url, params={"district": "無い"}).status_code == 404
    assert demo_client.get(url, params={"district": name, "format": "exe"}).status_code == 422


def test_gap_features_keep_whole_numbers(demo_client: TestClient) -> None:
    gaps = demo_client.get("/api/v1/regions/demo/access/gaps", params={"threshold": 250}).json()
    props = gaps["features"][0]["properties"]
    assert isinstance(props["rank"], int) and isinstance(props["locations"], int)
    assert gaps["features"][0]["id"] == 1


def test_kept_answers_are_sent_gzipped_and_revalidated(demo_client: TestClient) -> None:
    client = demo_client
    base = "/api/v1/regions/demo"
    for path in (f"{base}/access/gaps", f"{base}/access/coverage", f"{base}/access",
                 f"{base}/layers/places?limit=5000", f"{base}/tiles.json"):
        plain = client.get(path, headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and "content-encoding" not in plain.headers, path
        assert plain.headers["content-type"] == "application/json"
        zipped = client.get(path, headers={"Accept-Encoding": "gzip"})  # httpx unzips it
        if len(plain.content) >= 1024:
            assert zipped.headers["content-encoding"] == "gzip", path
        assert zipped.content == plain.content and zipped.headers["etag"] == plain.headers["etag"]
        again = client.get(path, headers={"If-None-Match": plain.headers["etag"]})
        assert again.status_code == 304 and not again.content, path
