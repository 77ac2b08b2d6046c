"""Operation lifecycle shared by the CLI, the Dagster assets and the sensor: create, estimate, queue,
pause, resume, cancel."""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean

from sqlalchemy.engine import Engine

from pipeline.column_batch.estimate import Estimate, Violation, estimate_operation, limit_violations
from pipeline.column_batch.prompts import RESPONSE_FORMAT, SYSTEM_PROMPT
from pipeline.column_batch.spec import OperationSpec, render
from pipeline.db import column_batch as store
from pipeline.db import spend as spend_counters
from pipeline.db.usage_ledger import load_price_book
from pipeline.lib.tokens import count_tokens
from pipeline.settings import get_settings

TERMINAL_STATES = ("completed", "cancelled", "failed")


class OperationStateError(RuntimeError):
    pass


@dataclass(frozen=True)
class EstimateResult:
    operation_id: int
    estimate: Estimate
    violations: list[Violation]


def create(engine: Engine, spec: OperationSpec) -> int:
    load_price_book(engine).price(spec.model)  # a model without a known price is refused up front
    with engine.begin() as conn:
        return store.create_operation(conn, spec)


def estimate(engine: Engine, op_id: int) -> EstimateResult:
    """Price the operation's remaining rows. Before the first run this also pins the row selection;
    afterwards it never re-pins, so a relaunch continues with exactly the rows still pending."""
    settings = get_settings()
    with engine.begin() as conn:
        op = store.load_operation(conn, op_id, for_update=True)
        spec = op.spec
        if op.state in TERMINAL_STATES:
            raise OperationStateError(f"Operation {op_id} is {op.state}; create a new one.")
        target = spec.target
        if not op.started:
            rows = store.select_target_rows(conn, spec)
            store.pin_rows(conn, op_id, target, rows, spec.batch_size)
        pending = [
            r for b in store.pending_batches(conn, op_id) for r in store.batch_rows(conn, op_id, b, target)
        ]
        existing = [
            r[target.column]
            for r in store.select_target_rows(conn, spec.model_copy(update={"regenerate_existing": True}))
            if r[target.column]
        ][:200]
        price = load_price_book(engine).price(spec.model)
        overhead = count_tokens(SYSTEM_PROMPT + str(RESPONSE_FORMAT), spec.model)
        typical_output = (
            round(mean(count_tokens(v, spec.model) for v in existing))
            if len(existing) >= 5
            else (spec.max_output_tokens // 2)
        )
        est = estimate_operation(
            [
                count_tokens(f"key={r['row_key']}\n" + render(spec.prompt_template, r), spec.model)
                for r in pending
            ],
            overhead,
            typical_output,
            spec,
            price,
            settings.openai_rpm,
            settings.openai_tpm,
        )
        spend = spend_counters.spend_today(conn, spec.requested_by)
        violations = limit_violations(est, spec, settings.safety_limits(), spend, spent_so_far=op.spent_usd)
        store.save_estimate(conn, op_id, {**est.as_json(), "violations": [v.__dict__ for v in violations]})
        if op.state == "draft":
            store.set_state(conn, op_id, "estimated")
    return EstimateResult(op_id, est, violations)


def queue(engine: Engine, op_id: int) -> None:
    """Ask the column-batch sensor to launch (or relaunch) the operation."""
    with engine.begin() as conn:
        op = store.load_operation(conn, op_id, for_update=True)
        if op.state in TERMINAL_STATES or op.state == "running":
            raise OperationStateError(
                f"Operation {op_id} is {op.state}; only draft, estimated or paused ones start."
            )
        if store.launched(conn, op_id):  # launching again would start a second run on the same rows
            raise OperationStateError(
                f"Operation {op_id} is already launched and its run is about to start; "
                f"watch it with `pipeline column-batch show {op_id}`."
            )
        store.set_state(conn, op_id, "queued", "waiting for the column-batch sensor")
        store.clear_launch(conn, op_id)


def pause(engine: Engine, op_id: int, reason: str = "paused by request") -> None:
    with engine.begin() as conn:
        op = store.load_operation(conn, op_id, for_update=True)
        if not store.set_state(conn, op_id, "paused", reason, only_from=("queued", "running")):
            raise OperationStateError(f"Operation {op_id} is {op.state}; only queued or running ones pause.")


def resume(engine: Engine, op_id: int) -> None:
    with engine.begin() as conn:
        op = store.load_operation(conn, op_id, for_update=True)
        if not store.set_state(
            conn, op_id, "queued", "resumed; waiting for the sensor", only_from=("paused",)
        ):
            raise OperationStateError(f"Operation {op_id} is {op.state}; only paused ones resume.")
        store.clear_launch(conn, op_id)


def cancel(engine: Engine, op_id: int, rollback: bool) -> int:
    """Cancel; with rollback, restore the previous values of generated rows. Returns rows restored."""
    with engine.begin() as conn:
        op = store.load_operation(conn, op_id, for_update=True)  # serialises with a batch being written
        if op.state in ("completed", "failed") and not rollback:
            raise OperationStateError(f"Operation {op_id} is {op.state}; nothing to cancel.")
        if op.state != "cancelled":
            store.set_state(conn, op_id, "cancelled", "cancelled by request")
        return store.rollback(conn, op_id, op.spec) if rollback else 0
