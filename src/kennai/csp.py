"""The Content Security Policy of every page kennai serves or writes, defined once.

A page may run only the scripts it was written with: its own files (``'self'``) and, for the
self-contained pages (the offline treasure map, the 地区カルテ, Swagger UI's start-up), the
inline scripts it holds, each allowed by its SHA-256 hash. Inline event handlers,
``javascript:`` addresses, ``eval`` and scripts from other hosts never run, so a name that
slipped through escaping still cannot execute. Styles may be inline (Leaflet and MapLibre
position their elements with them); nothing is loaded from another host, and no page may be
framed (``frame-ancestors`` in the HTTP header; a ``<meta>`` cannot carry it).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from html.parser import HTMLParser

#: The directives every page shares (script hashes are added per page).
_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'", "'unsafe-inline'"),
    "img-src": ("'self'", "data:", "blob:"),
    "font-src": ("'self'", "data:"),
    "connect-src": ("'self'",),
    "worker-src": ("'self'", "blob:"),
    "child-src": ("'self'", "blob:"),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}
#: Directives a ``<meta http-equiv>`` policy may not hold (browsers ignore them there).
_HEADER_ONLY = ("frame-ancestors",)
#: Headers of every HTML answer besides the policy itself.
HTML_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                "Referrer-Policy": "no-referrer"}
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_META = re.compile(r"""<meta\s+http-equiv=["']Content-Security-Policy["']\s+content="([^"]*)"\s*/?>""",
                   re.IGNORECASE)


def script_hash(code: str) -> str:
    """The CSP source that allows exactly this inline script: ``'sha256-…'``."""
    digest = hashlib.sha256(code.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def policy(script_hashes: Iterable[str] = (), *, meta: bool = False) -> str:
    """The policy text, allowing the given inline-script hashes; ``meta`` leaves out what a
    ``<meta>`` element cannot carry."""
    parts = []
    for name, sources in _POLICY.items():
        if meta and name in _HEADER_ONLY:
            continue
        extra = tuple(dict.fromkeys(script_hashes)) if name == "script-src" else ()
        parts.append(" ".join((name, *sources, *extra)))
    return "; ".join(parts)


class _Scripts(HTMLParser):
    """Collects the text of every inline ``<script>`` element, as the browser hashes it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.inline: list[str] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(k == "src" for k, _ in attrs):
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._text is not None:
            self.inline.append("".join(self._text))
            self._text = None


def inline_scripts(page: str) -> list[str]:
    """The text of each inline script of ``page`` (the scripts its writer put there)."""
    parser = _Scripts()
    parser.feed(page)
    parser.close()
    return parser.inline


def protect_page(page: str, *, scripts: int | None = 0) -> str:
    """``page`` with its policy as the first element of ``<head>`` (a written file carries its
    policy wherever it is opened: a browser, a file share, a static server).

    Call it on the finished page: it hashes the inline scripts there, so they must not change
    afterwards. ``scripts`` is how many inline scripts the writer put in; a page holding
    another number is refused (user text became a script: an escaping bug), so a page written
    with none allows none. ``None`` trusts the page's own count (the folium map, whose user
    text only reaches scripts as JSON string literals).
    """
    found = inline_scripts(page)
    if scripts is not None and len(found) != scripts:
        raise ValueError(f"the page holds {len(found)} inline scripts, its writer put {scripts}")
    policy_text = policy([script_hash(code) for code in found], meta=True)
    tag = f'<meta http-equiv="Content-Security-Policy" content="{policy_text}">'
    head = _HEAD.search(page)
    if head is None:
        raise ValueError("the page has no <head>: its policy has nowhere to go")
    return page[:head.end()] + tag + page[head.end():]


def declared_policy(page: str) -> str | None:
    """The policy a written page declares in its ``<meta>`` (None when it declares none)."""
    found = _META.search(page)
    return found.group(1) if found else None


def header_policy(page: str) -> str:
    """The policy to send with ``page`` as an HTTP answer: the one it declares, plus what only
    a header can say; the shared policy for a page that declares none."""
    declared = declared_policy(page)
    if declared is None:
        return policy()
    header_only = "; ".join(" ".join((name, *_POLICY[name])) for name in _HEADER_ONLY)
    return f"{declared}; {header_only}"
