#!/usr/bin/env bash
# Runs the performance benchmarks (installs the locked dependencies first if needed) and prints their
# results as one JSON list on stdout; progress and logs go to stderr. See benchmarks/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m benchmarks.run_all "$@"
