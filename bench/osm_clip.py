"""Benchmark: reading a whole OSM file against reading it clipped to a city's outline.

For the Malta extract (../shared/data/bench) and pipelines/malta_valletta_outline.geojson (about
3 × 3 km around Valletta) buffered by 1000 m (the largest default threshold), each reader —
walkable ways, buildings, places — runs in a fresh child process, whole and clipped, so that the
peak RSS printed is that reader's own (imports included: the baseline line shows them alone).
Times are the best of ``--repeat`` runs.

Malta's file is small (3.3 MB): its whole-file node index costs a few MB, so both reads peak near
the imports' footprint. ``--tile N`` also writes a synthetic regional file of N copies of Malta
side by side (each shifted 1° east, ids shifted apart) and reads it whole and clipped to the same
outline, which shows how memory follows the file when read whole and the clip when clipped.
Usage::

    python bench/osm_clip.py [--repeat 3] [--tile 16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PBF = ROOT.parent / "shared" / "data" / "bench" / "malta_osm_2016-11-09.osm.pbf"
OUTLINE = ROOT / "pipelines" / "malta_valletta_outline.geojson"
BUFFER_M = 1000.0

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import shapely
from kennai.config import Source
from kennai.io.osm import read_osm_buildings, read_osm_places, read_walk_ways
what, wkt, pbf = sys.argv[1], sys.argv[2], sys.argv[3]
clip = shapely.from_wkt(wkt) if wkt else None
t = time.perf_counter()
if what == "ways":
    n = len(read_walk_ways(pbf, clip=clip).offsets) - 1
elif what == "buildings":
    n = len(read_osm_buildings(pbf, clip=clip))
elif what == "places":
    n = len(read_osm_places(Source(path=Path(pbf)), clip=clip))
else:
    n = 0
elapsed = time.perf_counter() - t
print(json.dumps({"n": n, "s": elapsed, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def clip_polygon() -> str:
    """The outline buffered by the threshold, as WKT in EPSG:4326 (made here, not in the child)."""
    import geopandas as gpd

    outline = gpd.read_file(OUTLINE).to_crs(32633)
    return outline.buffer(BUFFER_M).to_crs(4326).union_all().wkt


def tile(copies: int, out: Path) -> Path:
    """Write ``copies`` shifted copies of the Malta file into one sorted PBF."""
    import osmium

    nodes = [(n.id, n.location.lon, n.location.lat, dict(n.tags))
             for n in osmium.FileProcessor(str(PBF), osmium.osm.NODE)]
    ways = [(w.id, [nd.ref for nd in w.nodes], dict(w.tags))
            for w in osmium.FileProcessor(str(PBF), osmium.osm.WAY)]
    rels = [(r.id, [(m.type, m.ref, m.role) for m in r.members], dict(r.tags))
            for r in osmium.FileProcessor(str(PBF), osmium.osm.RELATION)]
    step = 10_000_000_000
    mutable = osmium.osm.mutable
    with osmium.SimpleWriter(str(out), overwrite=True) as w:
        for k in range(copies):
            for i, x, y, tg in nodes:
                w.add_node(mutable.Node(id=i + k * step, location=(x + k, y), tags=tg))
        for k in range(copies):
            for i, refs, tg in ways:
                w.add_way(mutable.Way(id=i + k * step, nodes=[r + k * step for r in refs], tags=tg))
        for k in range(copies):
            for i, members, tg in rels:
                w.add_relation(mutable.Relation(
                    id=i + k * step, members=[(t, r + k * step, role) for t, r, role in members],
                    tags=tg))
    return out


def run(what: str, wkt: str, pbf: Path = PBF) -> dict[str, float]:
    """One reader in a fresh process (``wkt``: the clip, or "" for the whole file)."""
    out = subprocess.run([sys.executable, "-c", _CHILD, what, wkt, str(pbf)], check=True,
                         capture_output=True,
                         text=True, env={"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}",
                                         "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(pbf: Path, wkt: str, repeat: int) -> None:
    """Print the table of the three readers, whole and clipped, for one file."""
    print(f"{'reader':<10} {'whole: n':>9} {'s':>6} {'MB':>5}   {'clipped: n':>10} {'s':>6} {'MB':>5}")
    for what in ("ways", "buildings", "places"):
        whole = min((run(what, "", pbf) for _ in range(repeat)), key=lambda r: r["s"])
        part = min((run(what, wkt, pbf) for _ in range(repeat)), key=lambda r: r["s"])
        print(f"{what:<10} {whole['n']:>9,} {whole['s']:>6.2f} {whole['rss_mb']:>5.0f}   "
              f"{part['n']:>10,} {part['s']:>6.2f} {part['rss_mb']:>5.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tile", type=int, default=0, help="also read N copies of Malta as one file")
    args = parser.parse_args()
    if not PBF.is_file():
        print(f"skipped: {PBF} not found")
        return 0
    wkt = clip_polygon()
    base = run("none", "")
    print(f"imports alone: peak RSS {base['rss_mb']:.0f} MB")
    report(PBF, wkt, args.repeat)
    if args.tile:
        with tempfile.TemporaryDirectory() as tmp:
            big = tile(args.tile, Path(tmp) / f"malta_x{args.tile}.osm.pbf")
            print(f"\n{args.tile} copies of Malta side by side ({big.stat().st_size / 1e6:.0f} MB):")
            report(big, wkt, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
