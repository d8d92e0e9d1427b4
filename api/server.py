"""How kennai's web apps are served: uvicorn, with the settings every kennai server shares
(``kennai serve``, the tests' live servers and the tile benchmark start it through here)."""

from __future__ import annotations

from typing import Any

#: Seconds an idle keep-alive connection is kept open: longer than browsers keep their idle
#: sockets (Chromium: 300 s once used), so the server never closes one just as a browser
#: sends on it. uvicorn's default, 5 s, let that race lose requests: a browser resends only
#: idempotent ones on a socket closed under it, so a POST (a plan comparison, a register
#: edit) failed as "Failed to fetch".
KEEP_ALIVE_S = 330


def serve(app: Any, *, host: str, port: int, log_level: str = "info",
          access_log: bool = True) -> None:
    """Run ``app`` under uvicorn on ``host:port`` until the process is stopped."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=access_log,
                timeout_keep_alive=KEEP_ALIVE_S)
