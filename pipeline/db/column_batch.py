"""SQL for column-batch operations. Table and column names come only from the allowlist (Target)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pipeline.column_batch.spec import OperationSpec
from pipeline.column_batch.targets import Target

ACTIVE_STATES = ("queued", "running")


class UnknownOperationError(LookupError):
    def __init__(self, op_id: int) -> None:
        super().__init__(f"No column-batch operation {op_id}; `pipeline column-batch list` shows them.")


@dataclass(frozen=True)
class Operation:
    id: int
    spec: OperationSpec
    state: str
    state_reason: str | None
    estimate: dict[str, Any] | None
    total_rows: int
    spent_usd: Decimal
    reserved_usd: Decimal
    started: bool  # has any run begun generating? Then its row selection is pinned for good.


def q(name: str) -> str:
    """Quote an identifier taken from the allowlist."""
    return '"' + name.replace('"', '""') + '"'


_SPEC_COLUMNS = (
    "target_table",
    "target_column",
    "prompt_template",
    "row_filter",
    "model",
    "temperature",
    "max_output_tokens",
    "batch_size",
    "rows_per_request",
    "max_concurrent_batches",
    "regenerate_existing",
    "pause_on_error",
    "max_total_cost_usd",
    "max_cost_per_row_usd",
    "warning_threshold_pct",
    "max_error_rate",
    "requested_by",
)


def create_operation(conn: Connection, spec: OperationSpec) -> int:
    values = spec.model_dump()
    values["row_filter"] = json.dumps(values["row_filter"])
    cols = ", ".join(_SPEC_COLUMNS)
    params = ", ".join(f":{c}" for c in _SPEC_COLUMNS)
    return conn.execute(
        sa.text(
            f"INSERT INTO column_batch_operations (key_column, {cols}) VALUES (:key_column, {params}) RETURNING id"
        ),
        {**values, "key_column": spec.target.key_column},
    ).scalar_one()


def load_operation(conn: Connection, op_id: int, for_update: bool = False) -> Operation:
    lock = " FOR UPDATE" if for_update else ""
    row = (
        conn.execute(sa.text(f"SELECT * FROM column_batch_operations WHERE id = :id{lock}"), {"id": op_id})
        .mappings()
        .first()
    )
    if row is None:
        raise UnknownOperationError(op_id)
    spec = OperationSpec.model_validate({c: row[c] for c in _SPEC_COLUMNS})
    return Operation(
        row["id"],
        spec,
        row["state"],
        row["state_reason"],
        row["estimate"],
        row["total_rows"],
        row["spent_usd"],
        row["reserved_usd"],
        row["started_at"] is not None,
    )


def set_state(
    conn: Connection,
    op_id: int,
    state: str,
    reason: str | None = None,
    only_from: Sequence[str] | None = None,
) -> bool:
    """Move an operation to `state` (only from `only_from` states when given); True if it moved."""
    guard = " AND state = ANY(:from)" if only_from else ""
    stamp_key = state
    if state == "launched":  # a pseudo-state: the sensor launched a run, which moves it to running
        state, stamp_key = "queued", "launched"
    stamps = {
        "launched": ", launched_at = now()",
        "completed": ", finished_at = now()",
        "cancelled": ", finished_at = now()",
        "failed": ", finished_at = now()",
    }.get(stamp_key, "")
    result = conn.execute(
        sa.text(
            f"UPDATE column_batch_operations SET state = :s, state_reason = :r, updated_at = now(){stamps}"
            f" WHERE id = :id{guard}"
        ),
        {"s": state, "r": reason, "id": op_id, "from": list(only_from or [])},
    )
    return result.rowcount == 1


def _row_filter(spec: OperationSpec, alias: str) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions for the operation's row filter on the target table aliased `alias`."""
    where, params = [], {}
    for i, (column, value) in enumerate(sorted(spec.row_filter.items())):
        if isinstance(value, list):
            where.append(f"{alias}.{q(column)}::text = ANY(:f{i})")
            params[f"f{i}"] = [str(v) for v in value]
        else:
            where.append(f"{alias}.{q(column)}::text = :f{i}")
            params[f"f{i}"] = str(value)
    return where, params


def _still_empty(spec: OperationSpec, alias: str) -> str:
    column = f"{alias}.{q(spec.target.column)}"
    return f"({column} IS NULL OR btrim({column}) = '')"


def _in_scope(spec: OperationSpec, alias: str) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions for a target row the operation should write: its row filter and, fill-only, an
    empty column."""
    where, params = _row_filter(spec, alias)
    if not spec.regenerate_existing:
        where.append(_still_empty(spec, alias))
    return where, params


def select_target_rows(conn: Connection, spec: OperationSpec) -> list[dict[str, Any]]:
    t = spec.target
    where, params = _in_scope(spec, "t")
    clause = " WHERE " + " AND ".join(where) if where else ""
    cols = ", ".join(f"t.{q(c)}" for c in t.readable_columns)
    rows = conn.execute(
        sa.text(f"SELECT {cols} FROM {q(t.table)} t{clause} ORDER BY t.{q(t.key_column)}"), params
    )
    return [dict(r) for r in rows.mappings()]


def pin_rows(
    conn: Connection, op_id: int, target: Target, rows: Sequence[dict[str, Any]], batch_size: int
) -> None:
    conn.execute(sa.text("DELETE FROM column_batch_rows WHERE operation_id = :id"), {"id": op_id})
    if rows:
        conn.execute(
            sa.text(
                "INSERT INTO column_batch_rows (operation_id, row_key, batch_no, previous_value)"
                " VALUES (:id, :k, :b, :p)"
            ),
            [
                {"id": op_id, "k": str(r[target.key_column]), "b": i // batch_size, "p": r[target.column]}
                for i, r in enumerate(rows)
            ],
        )
    conn.execute(
        sa.text("UPDATE column_batch_operations SET total_rows = :n WHERE id = :id"),
        {"n": len(rows), "id": op_id},
    )


def save_estimate(conn: Connection, op_id: int, estimate: dict[str, Any]) -> None:
    conn.execute(
        sa.text("UPDATE column_batch_operations SET estimate = :e, updated_at = now() WHERE id = :id"),
        {"e": json.dumps(estimate), "id": op_id},
    )


def pending_batches(conn: Connection, op_id: int) -> list[int]:
    return list(
        conn.execute(
            sa.text(
                "SELECT DISTINCT batch_no FROM column_batch_rows WHERE operation_id = :id AND status = 'pending'"
                " ORDER BY batch_no"
            ),
            {"id": op_id},
        ).scalars()
    )


def skip_rows_out_of_scope(conn: Connection, op_id: int, batch_no: int, spec: OperationSpec) -> int:
    """Pending rows of the batch that changed since the estimate so that generating them would be wasted:
    deleted, moved out of the row filter or (fill-only) filled by someone. Skipped with the reason, before
    anything is paid for, and the operation can still complete."""
    t = spec.target
    filters, params = _row_filter(spec, "t")
    reasons = [(f"t.{q(t.key_column)} IS NULL", "the row was deleted before it was generated")]
    if filters:
        reasons.append(
            (f"NOT coalesce({' AND '.join(filters)}, false)", "the row no longer matches the row filter")
        )
    if not spec.regenerate_existing:
        reasons.append((f"NOT {_still_empty(spec, 't')}", "the column was filled before it was generated"))
    case = " ".join(f"WHEN {cond} THEN :r{i}" for i, (cond, _) in enumerate(reasons))
    params |= {f"r{i}": reason for i, (_, reason) in enumerate(reasons)}
    return conn.execute(
        sa.text(
            "UPDATE column_batch_rows r SET status = 'skipped', error = s.reason, updated_at = now() FROM"
            f" (SELECT p.row_key, CASE {case} END AS reason FROM column_batch_rows p"
            f" LEFT JOIN {q(t.table)} t ON t.{q(t.key_column)}::text = p.row_key"
            " WHERE p.operation_id = :id AND p.batch_no = :b AND p.status = 'pending') s"
            " WHERE r.operation_id = :id AND r.row_key = s.row_key AND s.reason IS NOT NULL"
        ),
        {**params, "id": op_id, "b": batch_no},
    ).rowcount


def batch_rows(conn: Connection, op_id: int, batch_no: int, target: Target) -> list[dict[str, Any]]:
    cols = ", ".join(f"t.{q(c)}" for c in target.readable_columns)
    rows = conn.execute(
        sa.text(
            f"SELECT r.row_key, {cols} FROM column_batch_rows r"
            f" JOIN {q(target.table)} t ON t.{q(target.key_column)}::text = r.row_key"
            " WHERE r.operation_id = :id AND r.batch_no = :b AND r.status = 'pending' ORDER BY r.row_key"
        ),
        {"id": op_id, "b": batch_no},
    )
    return [dict(r) for r in rows.mappings()]


@dataclass(frozen=True)
class RowOutcome:
    row_key: str
    status: str  # done | failed
    new_value: str | None
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal
    attempts: int
    error: str | None
    quality_flags: list[str]


def write_batch(
    conn: Connection,
    op_id: int,
    batch_no: int,
    spec: OperationSpec,
    outcomes: Sequence[RowOutcome],
    run_id: str,
) -> int:
    """Generated values, row results and the batch record in the caller's one transaction. A row that
    changed while its value was generated (deleted, moved out of the row filter, or filled by someone in a
    fill-only operation) keeps its current value and is recorded as skipped, with the value it was given.
    Returns the number of values written."""
    t = spec.target
    where, params = _in_scope(spec, "t")
    done = [o for o in outcomes if o.status == "done"]
    written: set[str] = set()
    if done:
        written = set(
            conn.execute(
                sa.text(
                    f"UPDATE {q(t.table)} t SET {q(t.column)} = v.value, updated_at = now()"
                    " FROM unnest(CAST(:keys AS text[]), CAST(:values AS text[])) AS v(row_key, value)"
                    f" WHERE t.{q(t.key_column)}::text = v.row_key"
                    + "".join(f" AND {w}" for w in where)
                    + f" RETURNING t.{q(t.key_column)}::text"
                ),
                {**params, "keys": [o.row_key for o in done], "values": [o.new_value for o in done]},
            ).scalars()
        )
    outcomes = [
        o
        if o.status != "done" or o.row_key in written
        else replace(o, status="skipped", error="the row changed before its value was written; it was kept")
        for o in outcomes
    ]
    done = [o for o in outcomes if o.status == "done"]
    conn.execute(
        sa.text(
            "UPDATE column_batch_rows SET status = :s, new_value = :v, input_tokens = :it, output_tokens = :ot,"
            " cost_usd = :c, attempts = attempts + :a, error = :e, quality_flags = :qf, updated_at = now()"
            " WHERE operation_id = :id AND row_key = :k"
        ),
        [
            {
                "s": o.status,
                "v": o.new_value,
                "it": o.input_tokens,
                "ot": o.output_tokens,
                "c": o.cost_usd,
                "a": o.attempts,
                "e": o.error,
                "qf": o.quality_flags,
                "id": op_id,
                "k": o.row_key,
            }
            for o in outcomes
        ],
    )
    failed = sum(1 for o in outcomes if o.status == "failed")
    conn.execute(
        sa.text(
            "INSERT INTO column_batch_batches (operation_id, batch_no, status, rows_done, rows_failed,"
            " input_tokens, output_tokens, cost_usd, run_id) VALUES (:id, :b, :s, :d, :f, :it, :ot, :c, :r)"
            " ON CONFLICT (operation_id, batch_no) DO UPDATE SET status = EXCLUDED.status,"
            " rows_done = column_batch_batches.rows_done + EXCLUDED.rows_done, rows_failed = EXCLUDED.rows_failed,"
            " input_tokens = column_batch_batches.input_tokens + EXCLUDED.input_tokens,"
            " output_tokens = column_batch_batches.output_tokens + EXCLUDED.output_tokens,"
            " cost_usd = column_batch_batches.cost_usd + EXCLUDED.cost_usd, run_id = EXCLUDED.run_id,"
            " finished_at = now()"
        ),
        {
            "id": op_id,
            "b": batch_no,
            "s": "done" if not failed else ("failed" if not done else "partial"),
            "d": len(done),
            "f": failed,
            "it": sum(o.input_tokens for o in outcomes),
            "ot": sum(o.output_tokens for o in outcomes),
            "c": sum((o.cost_usd for o in outcomes), Decimal(0)),
            "r": run_id,
        },
    )
    return len(done)


def progress(conn: Connection, op_id: int) -> dict[str, Any]:
    row = (
        conn.execute(
            sa.text(
                "SELECT count(*) AS total, count(*) FILTER (WHERE status = 'done') AS done,"
                " count(*) FILTER (WHERE status = 'failed') AS failed,"
                " count(*) FILTER (WHERE status = 'pending') AS pending,"
                " count(*) FILTER (WHERE status = 'skipped') AS skipped,"
                " count(*) FILTER (WHERE status = 'rolled_back') AS rolled_back,"
                " coalesce(sum(cost_usd), 0) AS cost_usd,"
                " count(*) FILTER (WHERE cardinality(quality_flags) > 0) AS flagged"
                " FROM column_batch_rows WHERE operation_id = :id"
            ),
            {"id": op_id},
        )
        .mappings()
        .one()
    )
    return dict(row)


def rollback(conn: Connection, op_id: int, spec: OperationSpec) -> int:
    """Restore previous values of generated rows that nobody has edited since."""
    t = spec.target
    restored = (
        conn.execute(
            sa.text(
                f"UPDATE {q(t.table)} AS t SET {q(t.column)} = r.previous_value, updated_at = now()"
                " FROM column_batch_rows r WHERE r.operation_id = :id AND r.status = 'done'"
                f" AND t.{q(t.key_column)}::text = r.row_key AND t.{q(t.column)} IS NOT DISTINCT FROM r.new_value"
                f" RETURNING t.{q(t.key_column)}::text"
            ),
            {"id": op_id},
        )
        .scalars()
        .all()
    )
    conn.execute(
        sa.text(
            "UPDATE column_batch_rows SET status = 'rolled_back', updated_at = now()"
            " WHERE operation_id = :id AND row_key = ANY(:k)"
        ),
        {"id": op_id, "k": list(restored)},
    )
    return len(restored)


def launch_counts(conn: Connection, user: str | None = None) -> dict[str, int]:
    row = (
        conn.execute(
            sa.text(
                "SELECT count(*) FILTER (WHERE state = 'running' OR (state = 'queued' AND launched_at IS NOT NULL))"
                " AS running,"
                " count(*) FILTER (WHERE launched_at > now() - interval '1 hour') AS last_hour,"
                " count(*) FILTER (WHERE launched_at > now() - interval '1 day') AS last_day,"
                " count(*) FILTER (WHERE launched_at > now() - interval '1 day' AND requested_by = :u) AS user_last_day"
                " FROM column_batch_operations"
            ),
            {"u": user},
        )
        .mappings()
        .one()
    )
    return dict(row)


def list_operations(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.text(
            "SELECT o.id, o.target_table || '.' || o.target_column AS target, o.state, o.state_reason, o.requested_by,"
            " o.total_rows, o.spent_usd, o.estimate->>'expected_cost_usd' AS estimated_usd, o.created_at,"
            " (SELECT count(*) FROM column_batch_rows r WHERE r.operation_id = o.id AND r.status = 'done') AS done"
            " FROM column_batch_operations o ORDER BY o.id DESC LIMIT :n"
        ),
        {"n": limit},
    )
    return [dict(r) for r in rows.mappings()]


def quality_flag_counts(conn: Connection, op_id: int) -> dict[str, int]:
    rows = conn.execute(
        sa.text(
            "SELECT flag, count(*) FROM column_batch_rows, unnest(quality_flags) AS flag"
            " WHERE operation_id = :id GROUP BY flag ORDER BY flag"
        ),
        {"id": op_id},
    ).all()
    return {r[0]: r[1] for r in rows}


def ledger_stats(conn: Connection, op_id: int) -> dict[str, Any]:
    row = (
        conn.execute(
            sa.text(
                "SELECT count(*) AS requests, count(*) FILTER (WHERE status = 'error') AS failed_requests,"
                " coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,"
                " coalesce(sum(cost_usd), 0) AS cost_usd,"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS latency_p50_ms,"
                " percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS latency_p95_ms,"
                " percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS latency_p99_ms"
                " FROM usage_ledger WHERE operation_id = :id"
            ),
            {"id": op_id},
        )
        .mappings()
        .one()
    )
    errors = dict(
        conn.execute(
            sa.text(
                "SELECT coalesce(error_type, 'unknown'), count(*) FROM usage_ledger WHERE operation_id = :id"
                " AND status = 'error' GROUP BY 1 ORDER BY 2 DESC"
            ),
            {"id": op_id},
        ).all()
    )
    row_errors = dict(
        conn.execute(
            sa.text(
                "SELECT error, count(*) FROM column_batch_rows WHERE operation_id = :id AND status = 'failed'"
                " GROUP BY 1 ORDER BY 2 DESC"
            ),
            {"id": op_id},
        ).all()
    )
    return {**row, "request_errors": errors, "row_errors": row_errors}


def row_results(conn: Connection, op_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.text(
            "SELECT row_key, batch_no, status, previous_value, new_value, input_tokens, output_tokens, cost_usd,"
            " attempts, error, array_to_string(quality_flags, ',') AS quality_flags, updated_at"
            " FROM column_batch_rows WHERE operation_id = :id ORDER BY batch_no, row_key"
        ),
        {"id": op_id},
    )
    return [dict(r) for r in rows.mappings()]


def queued_unlaunched(conn: Connection) -> list[int]:
    return list(
        conn.execute(
            sa.text(
                "SELECT id FROM column_batch_operations WHERE state = 'queued' AND launched_at IS NULL ORDER BY id"
            )
        ).scalars()
    )


def launched(conn: Connection, op_id: int) -> bool:
    """The sensor has launched a run for the operation that has not started working yet."""
    row = conn.execute(
        sa.text(
            "SELECT state = 'queued' AND launched_at IS NOT NULL FROM column_batch_operations WHERE id = :id"
        ),
        {"id": op_id},
    ).first()
    return bool(row and row[0])


def clear_launch(conn: Connection, op_id: int) -> None:
    """Queued again (start or resume): eligible for a new launch."""
    conn.execute(
        sa.text("UPDATE column_batch_operations SET launched_at = NULL WHERE id = :id"), {"id": op_id}
    )


def claim(conn: Connection, op_id: int, run_id: str, retried_run_id: str | None) -> bool:
    """Make `run_id` the one run working on the operation: from queued or estimated, or from the run it
    retries (or its own earlier attempt); False if the operation is not startable or another run has it."""
    return (
        conn.execute(
            sa.text(
                "UPDATE column_batch_operations SET state = 'running', state_reason = 'run ' || :run,"
                " run_id = :run, updated_at = now(), started_at = coalesce(started_at, now()),"
                " finished_at = NULL WHERE id = :id AND (state IN ('queued', 'estimated') OR (state = 'running'"
                " AND (run_id IS NULL OR run_id = :run OR run_id = :parent)))"
            ),
            {"id": op_id, "run": run_id, "parent": retried_run_id},
        ).rowcount
        == 1
    )


def state_and_run(conn: Connection, op_id: int) -> tuple[str, str | None]:
    """(state, the run working on it, if any run claimed it)."""
    row = conn.execute(
        sa.text("SELECT state, run_id FROM column_batch_operations WHERE id = :id"), {"id": op_id}
    ).first()
    if row is None:
        raise UnknownOperationError(op_id)
    return str(row[0]), row[1]


def launched_or_running(conn: Connection, older_than_seconds: int) -> list[int]:
    """Operations a run should be working on, last touched longer ago than the given age."""
    return list(
        conn.execute(
            sa.text(
                "SELECT id FROM column_batch_operations WHERE (state = 'running' OR (state = 'queued' AND launched_at IS NOT NULL))"
                " AND updated_at < now() - make_interval(secs => :s) ORDER BY id"
            ),
            {"s": older_than_seconds},
        ).scalars()
    )
