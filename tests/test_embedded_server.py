"""The embedded PostgreSQL as threaded Dagster sensors reach it: many threads of one process at once."""

import os
from concurrent.futures import ThreadPoolExecutor

import pytest


@pytest.mark.skipif("DATABASE_URL_IS_EXTERNAL" in os.environ, reason="tests the embedded server")
def test_threads_starting_together_all_get_the_server(database_url):
    from pipeline.db.embedded import ensure_embedded_server
    from pipeline.settings import get_settings

    data_dir = get_settings().data_dir
    with ThreadPoolExecutor(max_workers=8) as pool:
        urls = list(pool.map(lambda _: ensure_embedded_server(data_dir), range(64)))

    assert len(set(urls)) == 1


@pytest.mark.skipif("DATABASE_URL_IS_EXTERNAL" in os.environ, reason="tests the embedded server")
def test_the_embedded_server_runs_with_buffers_sized_for_vector_tables(engine):
    import sqlalchemy as sa

    from pipeline.db.embedded import available_memory_bytes, server_settings

    expected = server_settings(available_memory_bytes())["shared_buffers"]
    with engine.connect() as conn:
        shown = conn.execute(
            sa.text("SELECT setting::bigint * 8 / 1024 FROM pg_settings WHERE name = 'shared_buffers'")
        )
        assert f"{shown.scalar_one()}MB" == expected


def test_server_settings_take_a_quarter_of_memory_within_bounds():
    from pipeline.db.embedded import server_settings

    gib = 2**30
    assert server_settings(24 * gib) == {"shared_buffers": "2048MB"}
    assert server_settings(4 * gib) == {"shared_buffers": "1024MB"}
    assert server_settings(256 * 2**20) == {"shared_buffers": "128MB"}  # never below PostgreSQL's default


def test_server_conf_is_rewritten_only_when_it_changes(tmp_path):
    from pipeline.db.embedded import write_server_conf

    (tmp_path / "postgresql.conf").write_text("port = 5432\n")
    assert write_server_conf(tmp_path, {"shared_buffers": "1024MB"}) is True
    assert write_server_conf(tmp_path, {"shared_buffers": "1024MB"}) is False
    assert write_server_conf(tmp_path, {"shared_buffers": "2048MB"}) is True
    main = (tmp_path / "postgresql.conf").read_text()
    assert main.startswith("port = 5432\n") and main.count("include_if_exists = 'pipeline.conf'") == 1
    assert "shared_buffers = '2048MB'" in (tmp_path / "pipeline.conf").read_text()
