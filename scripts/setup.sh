#!/usr/bin/env bash
# Creates .venv with the locked dependencies (uv.lock). Safe to re-run; fast when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .tools/bin/uv ]; then
  "$PYTHON" -m venv .tools
  .tools/bin/pip install --quiet --disable-pip-version-check "uv==0.13.8"
fi
UV_PYTHON="$PYTHON" .tools/bin/uv sync --frozen --quiet
