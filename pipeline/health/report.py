"""System health: components, metrics, an overall status with reasons, and the active alerts."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from typing import Any

import psutil
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.db import alerts, emergency_stop
from pipeline.db import health as sql
from pipeline.db.vectors import INDEX_SHARDS, missing_shards
from pipeline.resources.openai import OpenAIResource
from pipeline.settings import get_settings

_RANK = {"healthy": 0, "warning": 1, "critical": 2, "unknown": 1}


def _component(status: str, **details: Any) -> dict[str, Any]:
    return {"status": status, **details}


def daemon_component(instance: Any | None) -> dict[str, Any]:
    if instance is None:
        return _component("unknown", detail="no Dagster instance (set DAGSTER_HOME) to read heartbeats from")
    beats = instance.get_daemon_heartbeats()
    if not beats:
        return _component(
            "critical", detail="no daemon heartbeat: is `dagster-daemon run` (or dagster dev) up?"
        )
    newest = max(b.timestamp for b in beats.values())
    age = time.time() - newest
    return _component(
        "healthy" if age < 120 else "critical", heartbeat_age_seconds=round(age, 1), daemons=sorted(beats)
    )


def health_report(engine: Engine, instance: Any | None = None, probe: Any | None = None) -> dict[str, Any]:
    """`probe`, when given, is a callable making one tiny live provider call (e.g. embed 'ping')."""
    reasons: list[str] = []
    components: dict[str, dict[str, Any]] = {}
    started = time.monotonic()
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            db_ms = (time.monotonic() - started) * 1000
            provider = sql.provider_activity(conn)
            sync = sql.sync_activity(conn)
            batch = sql.column_batch_activity(conn)
            size = sql.database_size_bytes(conn)
            stop = emergency_stop.read(conn)
            active_alerts = alerts.active(conn)
            dims = OpenAIResource().embedding_target()[1]
            unindexed = missing_shards(conn, dims)
            indexed = not unindexed
    except sa.exc.SQLAlchemyError as exc:
        return {
            "overall": "critical",
            "reasons": [f"database unreachable: {type(exc).__name__}"],
            "components": {"database": _component("critical")},
            "metrics": {},
            "alerts": [],
        }
    free = shutil.disk_usage(get_settings().data_dir if get_settings().data_dir.exists() else "/").free
    components["database"] = _component(
        "healthy" if db_ms < 500 else "warning",
        response_ms=round(db_ms, 1),
        size_bytes=size,
        disk_free_bytes=free,
    )
    if free < 1 << 30:
        reasons.append(f"less than 1 GiB free on the database disk ({free >> 20} MiB)")
    requests, errors = provider["requests_last_hour"], provider["errors_last_hour"]
    error_rate = errors / requests if requests else 0.0
    openai_status = (
        "critical" if requests >= 10 and error_rate > 0.5 else "warning" if error_rate > 0.1 else "healthy"
    )
    probe_result = None
    if probe is not None:
        try:
            probe()
            probe_result = "ok"
        except Exception as exc:  # any failure of the live call is the finding
            probe_result, openai_status = f"failed: {type(exc).__name__}", "critical"
    components["openai"] = _component(
        openai_status,
        provider=get_settings().provider,
        probe=probe_result,
        last_success=provider["last_success"],
        last_failure=provider["last_failure"],
        last_error=provider["last_error"],
    )
    oldest = sync["oldest_pending_seconds"] or 0
    sync_status = (
        "critical" if oldest > 1800 else "warning" if oldest > 300 or sync["failed_rows"] else "healthy"
    )
    if not indexed:
        sync_status = "critical" if sync_status == "critical" else "warning"
        reasons.append(
            f"no HNSW index for {dims}-dimension vectors of {len(unindexed)} of {INDEX_SHARDS} index shards"
            " (a bulk load is under way, or was interrupted): their searches scan exactly; the next sync or"
            " `pipeline admin reconcile` builds them"
        )
    components["embedding_sync"] = _component(
        sync_status,
        vector_index=indexed,
        queue_size=sync["queue_size"],
        oldest_pending_seconds=oldest,
        failed_rows=sync["failed_rows"],
        last_sync=sync["last_sync"],
    )
    components["column_batch"] = _component("warning" if batch["failed_last_day"] else "healthy", **batch)
    components["emergency_stop"] = _component(
        "critical" if stop.active else "healthy", active=stop.active, reason=stop.reason
    )
    components["dagster_daemon"] = daemon_component(instance)
    cpu, memory = psutil.cpu_percent(interval=0.2), psutil.virtual_memory().percent
    components["host"] = _component(
        "warning" if cpu > 90 or memory > 90 else "healthy", cpu_percent=cpu, memory_percent=memory
    )
    for name, comp in components.items():
        if comp["status"] in ("warning", "critical", "unknown"):
            reasons.append(f"{name} is {comp['status']}")
    reasons += [f"alert: {a['message']}" for a in active_alerts if a["severity"] == "critical"]
    worst = max((_RANK[c["status"]] for c in components.values()), default=0)
    if any(a["severity"] == "critical" for a in active_alerts):
        worst = max(worst, 1)
    return {
        "checked_at": datetime.now(UTC).isoformat(),
        "overall": ("healthy", "warning", "critical")[worst],
        "reasons": reasons,
        "components": components,
        "metrics": {
            "response_time_ms": provider["latency_p50_ms_last_hour"],
            "error_rate": round(error_rate, 4),
            "success_rate": round(1 - error_rate, 4) if requests else None,
            "queue_size": sync["queue_size"],
            "oldest_pending_seconds": oldest,
            "processing_rate_per_hour": sync["embedded_last_hour"],
        },
        "alerts": active_alerts,
    }
