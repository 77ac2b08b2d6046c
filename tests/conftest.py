"""Shared fixtures: a real PostgreSQL (embedded unless DATABASE_URL is set), a fresh database for the
session, and the OpenAI-compatible stand-in server on loopback driven through the official client."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
TEST_API_KEY = "sk-test-SECRET-0123456789abcdef"

_TABLES = (
    "content_changes, content_embeddings, embedding_failures, usage_ledger, api_rate_limits,"
    " menu_items, policies, faqs, businesses, glossary_terms, column_batch_operations, column_batch_rows,"
    " column_batch_batches, spend_counters, emergency_stop_audit, usage_daily, budgets, alerts, admin_actions,"
    " synced_rows, spend_reservations"
)


def _clear_caches() -> None:
    from pipeline.db.engine import engine_for
    from pipeline.settings import get_settings

    get_settings.cache_clear()
    engine_for.cache_clear()


@pytest.fixture(scope="session")
def standin() -> Iterator:
    from pipeline.openai_standin import StandinServer

    with StandinServer() as server:
        yield server


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory, standin) -> Iterator[str]:
    """A database of its own on the embedded server (or on DATABASE_URL's server)."""
    from pipeline.db.embedded import ensure_embedded_server
    from pipeline.db.engine import normalize_url

    server_url = os.environ.get("DATABASE_URL")
    if server_url:
        server_url = normalize_url(server_url)
        os.environ["DATABASE_URL_IS_EXTERNAL"] = "1"
    else:
        data_dir = Path(os.environ.get("PIPELINE_TEST_DATA_DIR", tmp_path_factory.mktemp("pgdata")))
        os.environ["PIPELINE_DATA_DIR"] = str(data_dir)
        server_url = ensure_embedded_server(data_dir)
    name = f"pipeline_test_{uuid.uuid4().hex[:8]}"
    # NullPool: tests restart the server, so no admin connection may be kept around.
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    os.environ.update(
        {
            "DATABASE_URL": url,
            "OPENAI_API_KEY": TEST_API_KEY,
            "OPENAI_BASE_URL": standin.base_url,
            "OPENAI_TIMEOUT_SECONDS": "2",
            "OPENAI_MAX_ATTEMPTS": "3",
            "EMBEDDING_RETRY_BASE_SECONDS": "0.5",
            # "auto" decides from how busy this shared machine is; tests of it choose it themselves.
            "VECTOR_INDEX_BUILD_DURING_LOAD": "always",
        }
    )
    _clear_caches()
    from pipeline.db.engine import get_engine
    from pipeline.db.migrate import migrate
    from pipeline.db.vectors import ensure_vector_index

    migrate(get_engine())
    ensure_vector_index(get_engine(), 1536)
    yield url
    get_engine().dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
    if not os.environ.get("DATABASE_URL_IS_EXTERNAL"):
        from pipeline.db.embedded import stop_embedded_server

        stop_embedded_server(data_dir)  # a test run leaves no server behind


@pytest.fixture
def engine(database_url: str, standin) -> Iterator[sa.Engine]:
    """A clean database and a clean stand-in for every test."""
    from pipeline.db.engine import get_engine

    engine = get_engine()
    with engine.begin() as conn:
        # Triggers off while clearing, so that the TRUNCATE trigger does not queue work.
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE"))
        conn.execute(sa.text("UPDATE emergency_stop SET active = false, changed_by = NULL, reason = NULL"))
    standin.reset()
    yield engine


@pytest.fixture
def instance() -> Iterator:
    import dagster as dg

    with dg.instance_for_test() as inst:
        yield inst


@pytest.fixture
def shipped_instance(database_url: str, tmp_path: Path, monkeypatch) -> Iterator:
    """An instance built from the repository's dagster_home/dagster.yaml, on a database of its own."""
    import dagster as dg

    name = f"dagster_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(database_url).set(drivername="postgresql+psycopg2", database=name)
    monkeypatch.setenv("DAGSTER_PG_URL", url.render_as_string(hide_password=False))
    # The storage turns batched event writes on for its process; undone after the test.
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    try:
        with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
            yield instance
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
