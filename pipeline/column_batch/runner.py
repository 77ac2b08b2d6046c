"""Running an operation's pending batches: bounded concurrency, a checkpoint per batch, budget
reservations per request, pause/cancel/emergency-stop checks before every request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.engine import Engine

from pipeline.column_batch import progress
from pipeline.column_batch.estimate import JSON_TOKENS_PER_ROW, SafetyLimits
from pipeline.column_batch.prompts import RESPONSE_FORMAT, messages_for, parse_answer
from pipeline.column_batch.quality import duplicate_keys, value_flags
from pipeline.column_batch.spec import render
from pipeline.db import alerts, emergency_stop, spend
from pipeline.db import column_batch as store
from pipeline.db.column_batch import Operation, RowOutcome
from pipeline.db.spend import BudgetExceededError
from pipeline.lib.pricing import cost_usd
from pipeline.lib.tokens import count_tokens
from pipeline.llm.calls import CallContext
from pipeline.llm.chat import ChatAnswer, ChatService
from pipeline.llm.errors import EmergencyStopError, InputRejectedError, ProviderFatalError, RequestFailedError

log = logging.getLogger(__name__)


class StopRequested(Exception):
    """The operation was paused or cancelled, or the emergency stop went on."""


@dataclass
class RunSummary:
    batches: int = 0
    rows_done: int = 0
    rows_failed: int = 0
    cost_usd: Decimal = Decimal(0)
    final_state: str = "running"
    reason: str | None = None
    log_lines: list[str] = field(default_factory=list)


@dataclass
class OperationRunner:
    engine: Engine
    chat: ChatService
    op: Operation
    limits: SafetyLimits
    run_id: str
    on_progress: Callable[[str], None] = log.info
    retried_run_id: str | None = None  # the run this one retries (Dagster run retries): it may take over
    _started: float = field(default_factory=time.monotonic, init=False)

    def run(self) -> RunSummary:
        self._started = time.monotonic()
        summary = RunSummary()
        op_id, spec = self.op.id, self.op.spec
        with self.engine.begin() as conn:
            if not store.claim(conn, op_id, self.run_id, self.retried_run_id):
                state, owner = store.state_and_run(conn, op_id)
                held = f" in run {owner}" if state == "running" else ""
                summary.final_state, summary.reason = state, f"operation is {state}{held}; nothing to run"
                return summary
            # A retry's parent (or this run's own earlier attempt) was killed mid-request: its
            # reservations never settled and would keep every cap lower for good.
            spend.release_run_reservations(conn, op_id, [r for r in (self.run_id, self.retried_run_id) if r])
            batches = store.pending_batches(conn, op_id)
        try:
            with ThreadPoolExecutor(
                max_workers=spec.max_concurrent_batches, thread_name_prefix="batch"
            ) as pool:
                in_flight: set[Future[tuple[int, int]]] = set()
                queue = list(batches)
                while queue or in_flight:
                    while queue and len(in_flight) < spec.max_concurrent_batches:
                        self._check_controls()
                        in_flight.add(pool.submit(self._run_batch, queue.pop(0)))
                    done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        ok, failed = future.result()
                        summary.batches += 1
                        summary.rows_done += ok
                        summary.rows_failed += failed
                    self._report(summary)
                    self._check_error_rate()
        except StopRequested as stop:
            summary.final_state, summary.reason = self._state(), str(stop)
        except BudgetExceededError as exc:
            self._move("paused", str(exc))
            summary.final_state, summary.reason = "paused", str(exc)
        except EmergencyStopError as exc:
            self._move("paused", f"emergency stop: {exc}")
            summary.final_state, summary.reason = "paused", str(exc)
        except ProviderFatalError as exc:
            self._move("failed", f"{exc.error_type}: {exc}")
            summary.final_state, summary.reason = "failed", str(exc)
        else:
            with self.engine.begin() as conn:
                left = store.pending_batches(conn, op_id)
                store.set_state(
                    conn,
                    op_id,
                    "completed" if not left else "paused",
                    None if not left else "rows left pending",
                    only_from=("running",),
                )
            summary.final_state = "completed" if not left else "paused"
        with self.engine.connect() as conn:
            summary.cost_usd = Decimal(store.progress(conn, op_id)["cost_usd"])
        return summary

    # ---- controls ----

    def _state(self) -> str:
        with self.engine.connect() as conn:
            return store.load_operation(conn, self.op.id).state

    def _move(self, state: str, reason: str) -> None:
        with self.engine.begin() as conn:
            if store.set_state(conn, self.op.id, state, reason, only_from=("running", "queued")):
                alerts.fire(
                    conn,
                    "health",
                    f"operation:{self.op.id}",
                    datetime.now(UTC).isoformat(),
                    state,
                    "critical" if state == "failed" else "warning",
                    f"column-batch operation {self.op.id} is {state}: {reason}",
                )

    def _check_controls(self) -> None:
        if emergency_stop.is_active(self.engine):
            self._move("paused", "emergency stop is on")
            raise StopRequested("emergency stop is on")
        with self.engine.connect() as conn:
            state, owner = store.state_and_run(conn, self.op.id)
        if state != "running":
            raise StopRequested(f"operation is {state}")
        if owner != self.run_id:  # paused and resumed meanwhile, and a newer run has it now
            raise StopRequested(f"run {owner} is working on the operation now")
        # This run's working time: hours spent paused (overnight, waiting for a budget) do not count, so a
        # resumed operation is not stopped at once for the time since it first started.
        hours = (time.monotonic() - self._started) / 3600
        if hours > self.limits.max_duration_hours:
            reason = f"running for {hours:.1f} h, over the {self.limits.max_duration_hours:g} h limit"
            self._move("paused", reason)
            raise StopRequested(reason)

    def _check_error_rate(self) -> None:
        spec = self.op.spec
        with self.engine.connect() as conn:
            p = store.progress(conn, self.op.id)
        processed = p["done"] + p["failed"]
        if processed and spec.pause_on_error and processed >= min(spec.batch_size, 10):
            rate = p["failed"] / processed
            if rate > spec.max_error_rate:
                reason = f"error rate {rate:.0%} over the maximum {spec.max_error_rate:.0%}"
                self._move("paused", reason)
                raise StopRequested(reason)

    def _report(self, s: RunSummary) -> None:
        line = progress.report(self.engine, self.op, s.rows_done, (time.monotonic() - self._started) / 60)
        s.log_lines.append(line)
        self.on_progress(line)

    # ---- one batch ----

    def _run_batch(self, batch_no: int) -> tuple[int, int]:
        spec = self.op.spec
        with self.engine.begin() as conn:
            store.skip_rows_out_of_scope(conn, self.op.id, batch_no, spec)
            rows = store.batch_rows(conn, self.op.id, batch_no, spec.target)
        prompts = {r["row_key"]: render(spec.prompt_template, r) for r in rows}
        outcomes: dict[str, RowOutcome] = {}
        keys = list(prompts)
        written = 0
        try:
            for i in range(0, len(keys), spec.rows_per_request):
                self._generate({k: prompts[k] for k in keys[i : i + spec.rows_per_request]}, outcomes)
        finally:
            if outcomes:  # checkpoint whatever was paid for, even when stopping mid-batch
                written = self._write(batch_no, list(outcomes.values()))
        return written, sum(1 for o in outcomes.values() if o.status == "failed")

    def _write(self, batch_no: int, outcomes: list[RowOutcome]) -> int:
        """Checkpoint the batch; returns the rows whose value was written."""
        dupes = duplicate_keys({o.row_key: o.new_value or "" for o in outcomes if o.status == "done"})
        flagged = [
            o
            if o.row_key not in dupes
            else RowOutcome(**{**o.__dict__, "quality_flags": [*o.quality_flags, "duplicate"]})
            for o in outcomes
        ]
        with self.engine.begin() as conn:
            op = store.load_operation(conn, self.op.id, for_update=True)
            if op.state == "cancelled":  # a cancel (maybe with rollback) won the race: apply nothing
                flagged = [
                    RowOutcome(**{**o.__dict__, "status": "skipped", "error": "cancelled"}) for o in flagged
                ]
            return store.write_batch(conn, self.op.id, batch_no, op.spec, flagged, self.run_id)

    def _generate(self, pack: dict[str, str], out: dict[str, RowOutcome]) -> None:
        """Values for a pack into `out` as each answer arrives (a stop or a budget refusal during the
        fallback must not lose rows already paid for); a malformed or partial answer falls back to halves,
        then single rows, for the missing keys only."""
        self._check_controls()
        try:
            answer, values = self._request(pack)
        except (RequestFailedError, InputRejectedError) as exc:
            if len(pack) > 1:
                self._split(pack, out)
            else:
                out.update({k: self._failed(k, str(exc)) for k in pack})
            return
        rows_answered = max(len(values), 1)
        share_in, share_out = answer.input_tokens // rows_answered, answer.output_tokens // rows_answered
        share_cost = (answer.cost_usd / rows_answered).quantize(Decimal("0.00000001"))
        out.update(
            {
                k: RowOutcome(
                    k,
                    "done",
                    v,
                    share_in,
                    share_out,
                    share_cost,
                    1,
                    None,
                    value_flags(v, answer.finish_reason if len(pack) == 1 else None),
                )
                for k, v in values.items()
            }
        )
        missing = {k: p for k, p in pack.items() if k not in values}
        if missing and len(pack) > 1:
            self._split(missing, out)
        elif missing:
            truncated = answer.finish_reason == "length"
            reason = "truncated answer" if truncated else "no usable value in the answer"
            out.update({k: self._failed(k, reason) for k in missing})

    def _split(self, pack: dict[str, str], out: dict[str, RowOutcome]) -> None:
        keys = list(pack)
        if len(keys) == 1:
            self._generate(pack, out)
            return
        half = len(keys) // 2
        self._generate({k: pack[k] for k in keys[:half]}, out)
        self._generate({k: pack[k] for k in keys[half:]}, out)

    def _failed(self, key: str, error: str) -> RowOutcome:
        return RowOutcome(key, "failed", None, 0, 0, Decimal(0), 1, error[:1000], [])

    def _request(self, pack: dict[str, str]) -> tuple[ChatAnswer, dict[str, str]]:
        spec = self.op.spec
        messages = messages_for(pack)
        input_tokens = sum(count_tokens(m["content"], spec.model) for m in messages) + 8
        max_tokens = len(pack) * (spec.max_output_tokens + JSON_TOKENS_PER_ROW) + 16
        worst = cost_usd(self.chat.prices.price(spec.model), input_tokens, max_tokens)
        with self.engine.begin() as conn:
            reservation = spend.reserve(
                conn,
                self.op.id,
                self.run_id,
                spec.requested_by,
                worst,
                self.limits.max_total_cost_per_day_usd,
                self.limits.user_max_cost_per_day_usd,
                min(spec.max_total_cost_usd, self.limits.max_cost_per_operation_usd),
            )
        actual = Decimal(0)
        try:
            answer = self.chat.complete(
                model=spec.model,
                messages=messages,
                temperature=spec.temperature,
                max_tokens=max_tokens,
                response_format=RESPONSE_FORMAT,
                estimated_tokens=input_tokens + max_tokens,
                ctx=CallContext("column_batch", run_id=self.run_id, operation_id=self.op.id),
            )
            actual = answer.cost_usd
        finally:
            with self.engine.begin() as conn:
                spend.settle(conn, self.op.id, spec.requested_by, reservation, actual)
        return answer, parse_answer(answer.content, set(pack))
