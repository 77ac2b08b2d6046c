# Sourced by the other scripts: puts the venv on PATH and points Dagster's own storage
# (runs, event logs, schedules) at a `dagster` database on the same PostgreSQL server.
# dagster-postgres needs psycopg2 (SQLAlchemy 2.1 would otherwise default to psycopg 3).
export PATH="$PWD/.venv/bin:$PATH"
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/dagster_home}"
pipeline db ensure-database dagster >/dev/null
DAGSTER_PG_URL="$(pipeline db url --database dagster --show-password --driver psycopg2)"
export DAGSTER_PG_URL
