"""A throwaway PostgreSQL + PostGIS server for the tests that need a real database.

``initdb`` in a temporary folder, served on a free loopback port with ``fsync`` off, stopped
and removed at the end of the session. :func:`postgis_why_not` says why it cannot start here
(tests skip with that reason); the ``postgis_server`` fixture (registered in conftest.py) is
its database URL, role ``kennai``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _pg_bin() -> Path | None:
    """The newest PostgreSQL server binaries (Debian's /usr/lib/postgresql/N/bin, or PATH)."""
    for found in sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                        reverse=True):
        if (found / "initdb").is_file() and (found / "pg_ctl").is_file():
            return found
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _has_postgis(bin_dir: Path) -> bool:
    share = Path("/usr/share/postgresql") / bin_dir.parent.name
    if (share / "extension" / "postgis.control").is_file():
        return True
    pg_config = bin_dir / "pg_config"
    if not pg_config.is_file():
        return False
    out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True)
    return (Path(out.stdout.strip()) / "extension" / "postgis.control").is_file()


def postgis_why_not() -> str | None:
    """Why no throwaway PostGIS can start on this machine (None when it can)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return 'psycopg is not installed (pip install "kennai[postgis]")'
    bin_dir = _pg_bin()
    if bin_dir is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    if not _has_postgis(bin_dir):
        return (f"PostGIS is not installed for PostgreSQL {bin_dir.parent.name}: "
                "apt-get install postgresql-15-postgis-3")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a 'postgres' user to run the server as"
    return None


def _as_server_user(args: list[str]) -> list[str]:
    """The command as the ``postgres`` user when we are root (the server refuses root)."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgis_server() -> Iterator[str]:
    """A PostgreSQL + PostGIS cluster for the session; its database URL (role ``kennai``)."""
    why = postgis_why_not()
    if why is not None:
        pytest.skip(why)
    import psycopg

    bin_dir = _pg_bin()
    assert bin_dir is not None
    top = Path(tempfile.mkdtemp(prefix="kennai-pg-"))
    data, port = top / "data", free_port()
    if os.geteuid() == 0:
        shutil.chown(top, "postgres", "postgres")
    started = False
    try:
        subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", "kennai",
                                        "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]),
                       check=True, capture_output=True)
        options = (f"-p {port} -k {top} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l",
                                        str(top / "server.log"), "-w", "-t", "30", "-o", options,
                                        "start"]), check=True, capture_output=True)
        started = True
        base = f"postgresql://kennai@127.0.0.1:{port}"
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE kennai")
        yield f"{base}/kennai"
    finally:
        if started:
            subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m",
                                            "fast", "-w", "stop"]), capture_output=True)
        shutil.rmtree(top, ignore_errors=True)
