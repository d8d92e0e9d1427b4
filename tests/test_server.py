"""kennai's servers keep an idle connection open longer than a browser keeps its idle sockets.

uvicorn's default (5 s) closed connections a browser still meant to reuse; a POST sent on one
just as it closed was lost ("Failed to fetch" in the workbench's plan comparison, once in a
full run). The real server settings (``api.server.serve``) run on loopback here: a request,
then more than uvicorn's default of idleness, then a POST on the same connection.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from api.server import KEEP_ALIVE_S

ROOT = Path(__file__).resolve().parents[1]

#: A minimal ASGI app: every request is answered with the length of its body.
APP = """
from api.server import serve

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

serve(app, host="127.0.0.1", port=PORT, log_level="warning")
"""


def test_an_idle_connection_outlives_uvicorns_default_keep_alive() -> None:
    assert KEEP_ALIVE_S > 300  # beyond Chromium's idle-socket timeout
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]))
    proc = subprocess.Popen([sys.executable, "-c", APP.replace("PORT", str(port))], env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"0"
        first = conn.sock
        time.sleep(6.0)  # uvicorn's default keep-alive is 5 s
        conn.request("POST", "/compare", body=b"x" * 1000)
        assert conn.sock is first  # the same connection, not a new one
        assert conn.getresponse().read() == b"1000"
        conn.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
