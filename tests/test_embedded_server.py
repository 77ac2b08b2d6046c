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


def _vector_install(root, version: str, library: bytes):
    from pipeline.db.portable_pgvector import VectorInstall

    (root / "lib").mkdir(parents=True)
    (root / "ext").mkdir()
    (root / "lib/vector.so").write_bytes(library)
    (root / "ext/vector.control").write_text(f"default_version = '{version}'\n")
    (root / f"ext/vector--{version}.sql").write_text(f"-- {version}\n")
    return VectorInstall(root / "lib/vector.so", root / "ext")


def test_the_portable_pgvector_build_replaces_the_bundled_one_once(tmp_path):
    from pipeline.db.portable_pgvector import install_portable_vector

    bundled = _vector_install(tmp_path / "bundled", "0.8.2", b"built with -march=native")
    portable = _vector_install(tmp_path / "portable", "0.8.6", b"built with OPTFLAGS=''")

    assert install_portable_vector(portable, bundled) is True
    assert bundled.library.read_bytes() == b"built with OPTFLAGS=''"
    assert bundled.version() == "0.8.6"
    # The older scripts stay: databases created with them keep working with the new library.
    assert {p.name for p in bundled.scripts()} == {"vector.control", "vector--0.8.2.sql", "vector--0.8.6.sql"}
    assert install_portable_vector(portable, bundled) is False
    assert install_portable_vector(None, bundled) is False  # no portable build on this platform


@pytest.mark.skipif("DATABASE_URL_IS_EXTERNAL" in os.environ, reason="tests the embedded server")
def test_the_embedded_server_builds_an_hnsw_index_on_this_cpu(engine):
    """The bundled vector.so died with SIGILL on CPUs without AVX-512; the portable one must not."""
    import sqlalchemy as sa

    from pipeline.db.portable_pgvector import pgserver_install, portable_install

    expected = portable_install()
    if expected is not None:
        assert pgserver_install().library.read_bytes() == expected.library.read_bytes()
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TEMP TABLE cpu_probe (id int, v vector(64))"))
        conn.execute(
            sa.text(
                "INSERT INTO cpu_probe SELECT g, (SELECT array_agg(sin(g * i))::vector"
                " FROM generate_series(1, 64) i) FROM generate_series(1, 500) g"
            )
        )
        conn.execute(sa.text("CREATE INDEX ON cpu_probe USING hnsw (v vector_cosine_ops)"))
        conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
        nearest = conn.execute(
            sa.text("SELECT id FROM cpu_probe ORDER BY v <=> (SELECT v FROM cpu_probe WHERE id = 7) LIMIT 1")
        ).scalar_one()
    assert nearest == 7


def test_a_newer_bundled_pgvector_is_never_replaced_by_an_older_portable_one(tmp_path):
    from pipeline.db.portable_pgvector import install_portable_vector

    bundled = _vector_install(tmp_path / "bundled", "0.9.0", b"newer, with C functions 0.8.6 lacks")
    portable = _vector_install(tmp_path / "portable", "0.8.6", b"built with OPTFLAGS=''")

    assert install_portable_vector(portable, bundled) is False
    assert bundled.library.read_bytes() == b"newer, with C functions 0.8.6 lacks"
    assert bundled.version() == "0.9.0"
