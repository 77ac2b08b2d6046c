"""Engine creation: one pooled SQLAlchemy engine per process and database URL."""

from __future__ import annotations

import os
from functools import cache

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.db.embedded import ensure_embedded_server
from pipeline.settings import Settings, get_settings


def normalize_url(url: str) -> str:
    """Accept the usual postgres:// spellings and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def database_url(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.database_url is not None:
        return normalize_url(settings.database_url.get_secret_value())
    return ensure_embedded_server(settings.data_dir)


def redact(url: str) -> str:
    """The URL with its password hidden, for anything a person or a log will read."""
    return sa.make_url(url).render_as_string(hide_password=True)


_LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


def on_this_machine(url: sa.URL) -> bool:
    """Is the server on this machine (a loopback address or a Unix socket)? Its CPU is then ours too."""
    socket = url.query.get("host", "")
    socket = socket[0] if isinstance(socket, tuple) else socket
    return (url.host or "") in _LOCAL_HOSTS and (socket in _LOCAL_HOSTS or socket.startswith("/"))


POOL_SIZE = 8
# Businesses a ranged sync run keeps in progress per provider request slot (pipeline/assets/embeddings.py):
# while one writes its answer, another's request is in flight. Each holds a connection.
PARTITIONS_PER_REQUEST_SLOT = 2


def pool_overflow(max_concurrency: int) -> int:
    """Connections beyond POOL_SIZE a process may open. A sync run holds at once: the index lock and the
    shard builder's, one connection per business in progress, and per request slot its lock plus a
    short-lived one (limiter, ledger, emergency stop); four spare. The step's final index build comes
    after the loaders are done: the index lock and VECTOR_INDEX_BUILD_WORKERS sessions."""
    in_progress = PARTITIONS_PER_REQUEST_SLOT * max_concurrency
    return max(16, 2 + in_progress + 2 * max_concurrency + 4 - POOL_SIZE)


def utc_session_options(url: str) -> str:
    """libpq `options` that pin the session time zone to UTC, after any the URL already sets: Dagster's
    daily partitions and the usage periods are UTC days, and SQL comparing timestamps with those dates
    would otherwise split days at the server's local midnight."""
    given = sa.make_url(url).query.get("options", "")
    given = " ".join(given) if isinstance(given, tuple) else given
    # An explicit `options` replaces libpq's PGOPTIONS, so whatever that sets is carried over.
    return f"{os.environ.get('PGOPTIONS', '')} {given} -c TimeZone=UTC".strip()


@cache
def engine_for(url: str, max_overflow: int) -> Engine:
    # pre_ping lets a process survive a database restart: stale pooled connections are replaced.
    # Overflow connections are opened only when that many are in use, and closed again when returned.
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=max_overflow,
        pool_recycle=1800,
        connect_args={"options": utc_session_options(url)},
    )


def get_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    return engine_for(database_url(settings), pool_overflow(settings.openai_max_concurrency))
