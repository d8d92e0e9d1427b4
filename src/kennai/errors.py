"""One error hierarchy for kennai.

Every failure a user can cause (a bad file, a bad config, a request for a layer that does not
exist) is raised as a :class:`KennaiError`. It carries the file, the feature and a hint in
Japanese and English, so the CLI and the API can print one readable line instead of a traceback.
The API answers each with the HTTP status of :data:`HTTP_STATUS` (:func:`http_status`).
"""

from __future__ import annotations

from pathlib import Path

from kennai.i18n import Text, get_lang


class KennaiError(Exception):
    """A failure the user can act on.

    Parameters
    ----------
    message
        What went wrong, in Japanese and English.
    path
        The file (or config) concerned, if any.
    feature
        The feature, row, layer or key concerned, if any (e.g. ``"row 12"``).
    hint
        What to do about it, in Japanese and English.
    """

    exit_code = 2

    def __init__(
        self,
        message: Text,
        *,
        path: str | Path | None = None,
        feature: str | Text | None = None,
        hint: Text | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.feature: str | Text | None = feature
        self.hint = hint
        super().__init__(self.format("en"))

    def format(self, lang: str | None = None) -> str:
        """Return the error as one line in ``lang`` (default: the current language)."""
        lang = lang or get_lang()
        feature = self.feature.get(lang) if isinstance(self.feature, Text) else self.feature
        parts = [p for p in (self.path, feature) if p]
        head = ": ".join(parts)
        text = self.message.get(lang)
        line = f"{head}: {text}" if head else text
        if self.hint is not None:
            line += (" → " if lang == "ja" else " -> ") + self.hint.get(lang)
        return line.replace("\n", " ")

    def to_dict(self) -> dict[str, str | None]:
        """Machine-readable form for JSON output and API error bodies."""
        return {
            "error": type(self).__name__,
            "message": self.message.en,
            "message_ja": self.message.ja,
            "path": self.path,
            "feature": self.feature.en if isinstance(self.feature, Text) else self.feature,
            "hint": self.hint.en if self.hint else None,
            "hint_ja": self.hint.ja if self.hint else None,
        }


class ConfigError(KennaiError):
    """The region config is missing, malformed or names something that does not exist."""


class InputError(KennaiError):
    """An input file cannot be read or its content is unusable."""


class CRSError(InputError):
    """A layer has no CRS, or one that does not fit the data."""


class EmptyLayerError(InputError):
    """A layer has no features."""


class CheckError(InputError):
    """A validation check found a problem that stops the build."""


class OutputError(KennaiError):
    """An output cannot be written where the user asked (a folder, a missing folder …)."""


class BuildNotFoundError(KennaiError):
    """A command needs a built region that does not exist yet."""


class NotFoundError(KennaiError):
    """A layer, district, plan or place that was asked for does not exist."""

    exit_code = 3


class TreasureMapError(KennaiError):
    """A treasure map cannot be made as asked (bad option, no Japanese font, bad output name)."""


class RegisterConflictError(KennaiError):
    """Another editor holds the place too long, or an Idempotency-Key already names another
    change: the change was not made."""


class PlanExistsError(KennaiError):
    """A plan of that name exists already (stored, or the region's own)."""


class ApiError(KennaiError):
    """A refusal by the server itself (no token, upload too large) with its HTTP status.

    The app answers it like every other :class:`KennaiError`: the same flat JSON body, in
    Japanese and English, so a client reads every error one way.
    """

    def __init__(self, status_code: int, error: str, message: Text, *, hint: Text | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.error = error
        self.headers = headers

    def to_dict(self) -> dict[str, str | None]:
        return super().to_dict() | {"error": self.error}


#: The HTTP status the API answers an error with: the entry of its nearest class (every
#: :class:`KennaiError` the user caused is 422 unless a subclass says otherwise).
HTTP_STATUS: dict[type[KennaiError], int] = {
    NotFoundError: 404,
    BuildNotFoundError: 503,
    RegisterConflictError: 409,
    PlanExistsError: 409,
    KennaiError: 422,
}


def http_status(exc: KennaiError) -> int:
    """The HTTP status for ``exc``: an :class:`ApiError`'s own, else :data:`HTTP_STATUS`'s."""
    if isinstance(exc, ApiError):
        return exc.status_code
    return next(HTTP_STATUS[cls] for cls in type(exc).__mro__ if cls in HTTP_STATUS)
