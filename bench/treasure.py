"""Time per treasure-map page: every 焼津市 elementary district as a one-page A4 landscape PDF.

Target: < 3 s per page. Run from the repository root:

    .venv/bin/python bench/treasure.py [--out DIR] [--atlas]

Prints one line per district (seconds, places) and the mean / max; exits 1 above the target.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from kennai.build import build_region  # noqa: E402
from kennai.config import load_config  # noqa: E402
from kennai.maps.content import district_places  # noqa: E402
from kennai.maps.treasure import write_atlas, write_treasure_map  # noqa: E402

TARGET_S = 3.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "pipelines" / "yaizu.yaml"))
    parser.add_argument("--layer", default="elementary")
    parser.add_argument("--out", type=Path, default=None, help="keep the PDFs here")
    parser.add_argument("--atlas", action="store_true", help="also time the one-PDF atlas")
    args = parser.parse_args()
    cfg = load_config(args.config)
    region, _ = build_region(cfg, build_dir=REPO / "build" / cfg.name)
    names = region.layer(args.layer)["name"].astype(str).tolist()
    out = args.out or Path(tempfile.mkdtemp(prefix="kennai-treasure-"))
    out.mkdir(parents=True, exist_ok=True)
    times = []
    for name in names:
        # Each page as the API would make it: a cold call that loads its own basemap.
        t0 = time.perf_counter()
        write_treasure_map(region, out / f"{name}.pdf", layer=args.layer, district=name,
                           paper="A4", orientation="landscape")
        dt = time.perf_counter() - t0
        times.append(dt)
        n = len(district_places(region, layer=args.layer, district=name))
        print(f"{name}\t{dt:.2f} s\t{n} places")
    print(f"pages {len(times)}  mean {statistics.mean(times):.2f} s  max {max(times):.2f} s  "
          f"(target < {TARGET_S:.0f} s)  → {out}")
    if args.atlas:
        t0 = time.perf_counter()
        write_atlas(region, out / "atlas.pdf", layer=args.layer)
        dt = time.perf_counter() - t0
        print(f"atlas {len(names)} pages in one PDF: {dt:.2f} s ({dt / len(names):.2f} s/page)")
    return 0 if max(times) < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
