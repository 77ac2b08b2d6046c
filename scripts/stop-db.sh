#!/usr/bin/env bash
# Stops the embedded PostgreSQL started by the other scripts (no-op with DATABASE_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -c "from pipeline.db.embedded import stop_embedded_server; from pipeline.settings import get_settings; stop_embedded_server(get_settings().data_dir)"
