"""Whether a build is current: the same inputs (path, size, sha256, the register's fingerprint),
config and kennai version as when it was made.

Apart from :mod:`kennai.build` (which needs every reader) so that a command reading a build
(``kennai info``) checks it without importing the build machinery.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kennai import __version__
from kennai.atomic import file_sha256
from kennai.config import RegionConfig, default_build_dir
from kennai.region import METADATA
from kennai.register.location import RegisterLocation, default_register_path
from kennai.register.source import register_fingerprint

FORMAT_VERSION = 5  # bump when what a build stores changes (old builds are rebuilt)


def input_hashes(config: RegionConfig, build_dir: Path | None = None, *,
                 register: RegisterLocation | None = None) -> list[dict[str, Any]]:
    """Path, size and sha256 of every input file, and the place register's fingerprint
    (``register``, default :func:`kennai.register.default_register_path`)."""
    seen: dict[Path, dict[str, Any]] = {}
    for p in config.input_files():
        if p in seen or not p.is_file():
            continue
        seen[p] = {"path": str(p), "bytes": p.stat().st_size, "sha256": file_sha256(p)}
    fingerprint = register_fingerprint(register or default_register_path(config, build_dir))
    return [*seen.values(), {"register": fingerprint}]


def is_current(config: RegionConfig, build_dir: Path | None = None) -> bool:
    """Whether ``build_dir`` holds a build of this config, kennai version and input files."""
    build_dir = build_dir or default_build_dir(config)
    return build_is_current(build_dir, config, input_hashes(config, build_dir))


def build_is_current(build_dir: Path, config: RegionConfig, hashes: list[dict[str, Any]]) -> bool:
    """Whether ``build_dir`` records these input ``hashes`` (already computed), this config and
    this kennai version and build format."""
    meta_path = build_dir / METADATA
    if not meta_path.is_file():
        return False
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (meta.get("format") == FORMAT_VERSION and meta.get("kennai") == __version__
            and meta.get("config_digest") == config.digest() and meta.get("inputs") == hashes)
