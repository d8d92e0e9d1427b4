"""User-facing text in Japanese (default) with English available.

Messages are built where they are raised as :class:`Text` pairs, so a reader of the code sees
both languages at once; the process-wide language chooses which one is shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_LANGS = ("ja", "en")
_state = {"lang": os.environ.get("KENNAI_LANG", "ja") if os.environ.get("KENNAI_LANG") in _LANGS
          else "ja"}


@dataclass(frozen=True, slots=True)
class Text:
    """A message in Japanese and English."""

    ja: str
    en: str

    def get(self, lang: str | None = None) -> str:
        """The message in ``lang`` (default: the current language)."""
        return self.en if (lang or get_lang()) == "en" else self.ja

    def __str__(self) -> str:
        return self.get()


def set_lang(lang: str) -> None:
    """Set the language of messages for this process (``"ja"`` or ``"en"``)."""
    if lang not in _LANGS:
        raise ValueError(f"unknown language {lang!r}; use one of {_LANGS}")
    _state["lang"] = lang


def get_lang() -> str:
    """The current message language."""
    return _state["lang"]


def t(ja: str, en: str) -> Text:
    """Shorthand for :class:`Text`."""
    return Text(ja, en)
