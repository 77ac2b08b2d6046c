"""The PostgreSQL the pipeline reads content from and writes vectors, queue state and usage to."""

from __future__ import annotations

import dagster as dg
from sqlalchemy.engine import Engine

from pipeline.db.engine import get_engine


class DatabaseResource(dg.ConfigurableResource):
    """Connection settings come from the environment (DATABASE_URL, or the embedded server), never
    from run config, so that a password cannot end up in the UI."""

    @property
    def engine(self) -> Engine:
        return get_engine()
