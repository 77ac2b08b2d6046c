#!/usr/bin/env bash
# One command on a fresh machine: install, start PostgreSQL, migrate, load demo data, then run the
# Dagster UI and daemon (sensors on) at http://127.0.0.1:3000. Ctrl-C stops Dagster; the embedded
# PostgreSQL keeps running in the background (stop it with: bash scripts/stop-db.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
pipeline db migrate
pipeline demo load
echo "Dagster UI: http://${DAGSTER_HOST:-127.0.0.1}:${DAGSTER_PORT:-3000}  (embeddings appear within seconds)"
exec dagster dev -w workspace.yaml -h "${DAGSTER_HOST:-127.0.0.1}" -p "${DAGSTER_PORT:-3000}"
