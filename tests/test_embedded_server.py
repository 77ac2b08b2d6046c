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
