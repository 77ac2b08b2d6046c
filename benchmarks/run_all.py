"""Run every benchmark, each in its own process, and print their JSON objects as one JSON list.

One embedded PostgreSQL is started for the whole run (unless DATABASE_URL or PIPELINE_DATA_DIR points at
one already) and stopped at the end; every benchmark creates and drops its own database on it. Each
benchmark's stderr (Dagster logs) goes to a file in --log-dir, named in its entry as "log".

    .venv/bin/python -m benchmarks.run_all [--only NAME,...] [--skip NAME,...] [--full]
        [--rows N] [--vectors N] [--log-dir DIR] [--timeout SECONDS] [--strict]

Defaults: 10k rows for the syncs and hnsw_layout, 100k vectors for search (about 35 minutes on 2
cores). --full: 100k rows for the syncs and hnsw_layout as well (about 90 minutes more).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import _common as c

ROOT = Path(__file__).resolve().parent.parent


def plan(args: argparse.Namespace) -> list[tuple[str, str, list[str]]]:
    """(entry name, module, flags) in run order."""
    rows = ["--rows", str(args.rows)]
    entries = [
        ("initial_sync", "initial_sync", rows),
        ("initial_sync_latency", "initial_sync", [*rows, "--latency-ms", str(args.latency_ms)]),
        ("hnsw_layout", "hnsw_layout", rows),
        ("incremental_sync", "incremental_sync", rows),
        ("capture_overhead", "capture_overhead", []),
        ("search", "search", ["--vectors", str(args.vectors)]),
        ("column_batch", "column_batch", []),
        ("sensor_scale", "sensor_scale", []),
        ("dagster_bookkeeping", "dagster_bookkeeping", []),
        ("ui_scale", "ui_scale", []),
        ("freshness", "freshness", []),
    ]
    only = set(filter(None, args.only.split(","))) if args.only else None
    skip = set(filter(None, args.skip.split(",")))
    known = {name for name, _, _ in entries} | {module for _, module, _ in entries}
    unknown = ((only or set()) | skip) - known
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
        )
    return [
        e
        for e in entries
        if (only is None or e[0] in only or e[1] in only) and e[0] not in skip and e[1] not in skip
    ]


def run_one(name: str, module: str, flags: list[str], log_dir: Path, timeout: float) -> dict[str, Any]:
    log = log_dir / f"{name}.log"
    command = [sys.executable, "-m", f"benchmarks.{module}", *flags]
    started = time.perf_counter()
    print(f"[bench] {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    try:
        with log.open("w") as err:
            proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True)
            try:
                stdout, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                # SIGTERM first: a benchmark that started servers (freshness: `dagster dev`) stops them.
                proc.terminate()
                try:
                    proc.communicate(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()
                raise
        lines = [line for line in stdout.splitlines() if line.strip()]
        outcome = json.loads(lines[-1]) if lines else {"error": f"no output, exit code {proc.returncode}"}
    except subprocess.TimeoutExpired:
        outcome = {"error": f"timed out after {timeout:g} s"}
    except json.JSONDecodeError as exc:
        outcome = {"error": f"unparseable output: {exc}"}
    outcome.setdefault("benchmark", name)
    outcome.setdefault("met", False)
    outcome["benchmark"] = name
    outcome["log"] = str(log)
    outcome.setdefault("seconds", round(time.perf_counter() - started, 2))
    status = "error" if "error" in outcome else ("met" if outcome["met"] else "NOT met")
    print(f"[bench] {name}: {status} ({outcome['seconds']} s)", file=sys.stderr, flush=True)
    return outcome


def bench_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.full:
        args.rows, args.vectors = max(args.rows, 100_000), max(args.vectors, 100_000)
    entries = plan(args)
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="bench-logs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    with c.restored_env(), c.database_server():
        # Children inherit PIPELINE_DATA_DIR (or DATABASE_URL) and find the server running.
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        return [run_one(name, module, flags, log_dir, args.timeout) for name, module, flags in entries]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names")
    parser.add_argument("--full", action="store_true", help="target sizes: 100000 rows and vectors")
    parser.add_argument("--rows", type=int, default=10_000, help="initial/incremental sync rows")
    parser.add_argument("--vectors", type=int, default=100_000, help="search vectors")
    parser.add_argument(
        "--latency-ms", type=float, default=200, help="stand-in latency for initial_sync_latency"
    )
    parser.add_argument(
        "--log-dir", default=None, help="where each benchmark's stderr goes (default: a temp dir)"
    )
    parser.add_argument("--timeout", type=float, default=3 * 3600, help="seconds per benchmark")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any target is not met")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: still stop the database server
    with c.stdout_to_stderr() as out:
        results = bench_all(args)
        # A JSON list with one benchmark object per line.
        out.write("[\n" + ",\n".join(json.dumps(r, default=str) for r in results) + "\n]\n")
    errors = any("error" in r for r in results)
    unmet = any(not r.get("met") for r in results)
    sys.exit(1 if errors or (args.strict and unmet) else 0)


if __name__ == "__main__":
    main()
