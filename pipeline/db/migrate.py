"""Ordered SQL migrations, applied once each, recorded with a checksum, under an advisory lock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.engine import Engine

_LOCK_KEY = 7_316_001  # any constant; serialises concurrent `migrate` calls from several processes


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available_migrations() -> list[Migration]:
    folder = resources.files("pipeline.db").joinpath("migrations")
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(version, rest.removesuffix(".sql"), entry.read_text()))
    return found


class MigrationDriftError(RuntimeError):
    pass


def migrate(engine: Engine) -> list[str]:
    """Apply pending migrations; return the versions applied. Safe to call any number of times."""
    applied_now: list[str] = []
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        conn.execute(
            sa.text(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
        )
        done = dict(conn.execute(sa.text("SELECT version, checksum FROM schema_migrations")).all())
        for migration in available_migrations():
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationDriftError(
                        f"Migration {migration.version}_{migration.name} was edited after it was applied. "
                        "Add a new migration file instead of changing an applied one."
                    )
                continue
            # Straight to the driver: migration SQL contains % characters (format()) that are not
            # bind parameters.
            conn.connection.dbapi_connection.execute(migration.sql)
            conn.execute(
                sa.text("INSERT INTO schema_migrations (version, name, checksum) VALUES (:v, :n, :c)"),
                {"v": migration.version, "n": migration.name, "c": migration.checksum},
            )
            applied_now.append(migration.version)
    return applied_now
