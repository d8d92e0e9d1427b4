"""The register in PostgreSQL + PostGIS, for several editors at once (``kennai[postgis]``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kennai.errors import ConfigError, RegisterConflictError
from kennai.i18n import t
from kennai.register.base import ADDED_FIELDS, PlaceRegister
from kennai.register.location import RegisterLocation

_POSTGIS_SCHEMA = """
CREATE TABLE IF NOT EXISTS places (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    place_id text UNIQUE,
    name text NOT NULL,
    category text NOT NULL DEFAULT '',
    address text NOT NULL DEFAULT '',
    weekdays text NOT NULL DEFAULT '',
    start_time text NOT NULL DEFAULT '',
    end_time text NOT NULL DEFAULT '',
    schedule_note text NOT NULL DEFAULT '',
    description text NOT NULL DEFAULT '',
    frequency text NOT NULL DEFAULT '',
    audience text NOT NULL DEFAULT '',
    fee text NOT NULL DEFAULT '',
    activity text NOT NULL DEFAULT '',
    contact text NOT NULL DEFAULT '',
    note text NOT NULL DEFAULT '',
    geom geometry(Point, 4326) NOT NULL,
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text NOT NULL,
    retired_at timestamptz,
    retired_by text,
    retired_reason text
);
CREATE INDEX IF NOT EXISTS places_geom_gist ON places USING gist (geom);
CREATE TABLE IF NOT EXISTS place_events (
    event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    place_id text NOT NULL REFERENCES places (place_id),
    action text NOT NULL,
    at timestamptz NOT NULL,
    "by" text NOT NULL,
    data jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS place_events_place_id ON place_events (place_id, event_id);
CREATE TABLE IF NOT EXISTS idempotency (
    idem_key text PRIMARY KEY,
    request text NOT NULL,
    response jsonb NOT NULL,
    at timestamptz NOT NULL
);
"""


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


class PostGISRegister(PlaceRegister, scheme="postgresql"):
    """The register in PostgreSQL + PostGIS, for several editors at once.

    Each call opens its own connection (a register sees a few changes a minute; no pool to
    size). A change locks the place's row (``SELECT … FOR UPDATE``) until it commits, so a
    second editor of the same place waits; after ``lock_timeout`` seconds of waiting it gets a
    :class:`RegisterConflictError` and nothing is changed.

    Parameters
    ----------
    location
        ``postgresql://user[:password]@host[:port]/database`` (libpq URL; ``PG*`` environment
        variables and ``~/.pgpass`` apply too).
    bounds
        As for :class:`PlaceRegister`.
    lock_timeout
        Seconds a change waits for another editor's lock on the same place.
    """

    _select_point = "ST_X(geom) AS lon, ST_Y(geom) AS lat"
    _insert_point = ("geom", "ST_SetSRID(ST_MakePoint(?, ?), 4326)")
    _assign_point = "geom = ST_SetSRID(ST_MakePoint(?, ?), 4326)"
    _lock_row = " FOR UPDATE"

    def __init__(self, location: RegisterLocation, *,
                 bounds: tuple[float, float, float, float] | None = None,
                 lock_timeout: float = 10.0) -> None:
        try:
            import psycopg  # noqa: F401  (an optional dependency: kennai[postgis])
        except ImportError:
            raise ConfigError(t("PostgreSQL の登録簿には psycopg が必要です",
                                "a PostgreSQL register needs psycopg"), path=_redact(str(location)),
                              hint=t('pip install "kennai[postgis]" を実行してください',
                                     'run pip install "kennai[postgis]"')) from None
        super().__init__(_redact(str(location)), bounds=bounds)
        self._url = str(location)
        self.lock_timeout = lock_timeout
        self._create_schema()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s")

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        import psycopg
        from psycopg.rows import dict_row

        try:
            conn = psycopg.connect(self._url, autocommit=True, row_factory=dict_row,
                                   connect_timeout=10, application_name="kennai-register")
        except psycopg.Error as exc:
            raise ConfigError(t("登録簿のデータベースに接続できません",
                                "cannot connect to the register's database"),
                              path=self.location, feature=type(exc).__name__,
                              hint=t("URL・サーバー・権限を確認してください（"
                                     f"{str(exc).strip()[:200]}）",
                                     f"check the URL, the server and the role ({str(exc).strip()[:200]})"
                                     )) from None
        with conn:
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        import psycopg

        with self._connect() as conn:
            try:
                with conn.transaction():
                    conn.execute(f"SET LOCAL lock_timeout = '{int(self.lock_timeout * 1000)}ms'")
                    yield conn
            except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
                raise RegisterConflictError(
                    t("他の人が同じ場所を変更中のため、変更できませんでした",
                      "someone else is changing the same place: nothing was changed"),
                    path=self.location, hint=t("少し待ってからもう一度試してください",
                                               "wait a moment and try again")) from None

    def _lock_key(self, conn: Any, key: str) -> None:
        """A second writer with the same Idempotency-Key waits for the first one's commit."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("kennai.idem:" + key,))

    def _schema_is_current(self, conn: Any) -> bool:
        """Whether every table, index and column is there, read from the catalogue alone.

        DDL such as ``ALTER TABLE … ADD COLUMN IF NOT EXISTS`` takes the table's exclusive lock
        even when it changes nothing, so a register opened (by a server starting, or by a build
        reading the places) while an editor holds a row would wait for that editor, or deadlock
        with it. Only a register missing something runs the DDL.
        """
        names = ("places", "place_events", "idempotency", "places_geom_gist",
                 "place_events_place_id")
        present = conn.execute("SELECT " + ", ".join(f"to_regclass('{n}') IS NOT NULL AS {n}"
                                                     for n in names)).fetchone()
        if not all(present.values()):
            return False
        columns = {row["column_name"] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'places'").fetchall()}
        return set(ADDED_FIELDS) <= columns

    def _create_schema(self) -> None:
        import psycopg

        with self._connect() as conn:
            if self._schema_is_current(conn):
                return
        with self._transaction() as conn:
            # One creator at a time: two servers starting together must not race on the DDL.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('kennai.register'))")
            if self._schema_is_current(conn):  # made by the other while this one waited
                return
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() is None:
                try:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                except psycopg.Error as exc:
                    raise ConfigError(
                        t("データベースに PostGIS がありません", "the database has no PostGIS"),
                        path=self.location, feature="postgis",
                        hint=t("管理者に CREATE EXTENSION postgis を実行してもらってください",
                               f"ask the administrator to run CREATE EXTENSION postgis ({exc})"),
                    ) from None
            conn.execute(_POSTGIS_SCHEMA)
            for name in ADDED_FIELDS:  # a register made before these fields existed
                conn.execute(f"ALTER TABLE places ADD COLUMN IF NOT EXISTS {name} text NOT NULL "
                             "DEFAULT ''")
