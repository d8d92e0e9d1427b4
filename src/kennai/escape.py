"""User text made safe for the place it goes in an HTML page, one function per context.

Names, categories, notes and district names come from city files, the register and uploads:
anyone may have written ``<script>`` or ``${…}`` into them. Every HTML writer passes such text
through one of these before it joins markup:

* :func:`text` for element content and :func:`attr` for a quoted attribute value
  (``markupsafe``: ``& < > " '`` as entities);
* :func:`js_string` for a value inside an inline ``<script>``: JSON with ``< > & '`` and the
  line separators as ``\\u`` escapes, so neither ``</script>`` nor a quote can end it (never a
  template literal, where ``${…}`` would run);
* :func:`url` for an address in ``href``: only ``http(s)://`` and relative ones pass
  (:data:`SAFE_URL_PATTERN`; ``javascript:`` and ``data:`` never reach a link).
"""

from __future__ import annotations

import json
import re
from typing import Any

from markupsafe import escape

#: An address a link may have: ``http(s)://…`` or a relative path (no other scheme, no space).
SAFE_URL_PATTERN = r"^(https?://[^\s]+|(?![a-zA-Z][a-zA-Z0-9+.-]*:)[^\s]*)$"
_SAFE_URL = re.compile(SAFE_URL_PATTERN)
_JS_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027",
              "\u2028": "\\u2028", "\u2029": "\\u2029"}


def text(value: Any) -> str:
    """``value`` as HTML element content."""
    return str(escape("" if value is None else str(value)))


def attr(value: Any) -> str:
    """``value`` for a double- or single-quoted attribute (quote it in the markup)."""
    return text(value)


def js_string(value: Any) -> str:
    """``value`` as a JavaScript literal (JSON) that is safe inside an inline ``<script>``."""
    out = json.dumps(value, ensure_ascii=False)
    return re.sub("[<>&'\u2028\u2029]", lambda m: _JS_UNSAFE[m.group(0)], out)


def is_safe_url(address: str) -> bool:
    """Whether ``address`` may be a link: ``http(s)://`` or relative, nothing else."""
    return bool(_SAFE_URL.match(address))


def url(address: str) -> str:
    """``address`` for an ``href`` (escaped); an unsafe one becomes ``#`` (a link to nowhere)."""
    return attr(address if is_safe_url(address) else "#")
