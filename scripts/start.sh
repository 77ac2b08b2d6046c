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
# A shell started in the background (`start.sh &`, nohup, CI) runs with SIGINT ignored, and Dagster maps
# SIGTERM to SIGINT's handler, so `kill` would not stop it; restore the default before exec'ing Dagster.
exec python -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
  dagster dev -w workspace.yaml -h "${DAGSTER_HOST:-127.0.0.1}" -p "${DAGSTER_PORT:-3000}"
