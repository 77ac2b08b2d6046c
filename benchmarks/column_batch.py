"""Column-batch generation (menu_items.description), driven like tests/column_batch_helpers.py:
service.create + service.queue, then an in-process Dagster materialize of the column-batch assets.

1. Throughput under rate limits: the stand-in enforces --rpm-limit/--tpm-limit (its sliding 60 s
   window) and answers after --latency s; the pipeline is configured with the same limits (OPENAI_RPM,
   OPENAI_TPM), as an operator would. Rows/min is measured in steady state: the whole 60 s windows
   after the first minute (the first minute may use the burst both limiters allow). Reference: the
   ceiling of those limits, min(RPM, TPM / prompt tokens per request) x rows per request per minute.
   Targets: ratio >= 0.9, and < 1% of chat requests answered 429.
2. Tokens per row, rows_per_request=10 vs 1 (same rows, stand-in unlimited): ratio <= 0.4.
3. Budget overshoot: max_concurrent_batches=5, stand-in latency 0.2 s, and a max_total_cost_usd set
   (after the estimate) to --budget-fraction (0.2) of the estimated cost so that it runs out mid-run. Targets:
   spent_usd - cap <= 0 and ledger sum - spent_usd == 0, i.e. overshoot exactly 0.

    .venv/bin/python -m benchmarks.column_batch [--rows 1500] [--rpm-limit 60] [--tpm-limit 100000]
"""

from __future__ import annotations

import argparse
import math
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from benchmarks import _common as c

MAX_OUTPUT_TOKENS = 60
TEMPLATE = "Write a one-sentence menu description for {name} ({category})."


def menu_without_descriptions(engine: sa.Engine, business_id: int, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO menu_items (business_id, name, category)"
                " SELECT :b, initcap((CAST(:mains AS text[]))[1 + g % cardinality(CAST(:mains AS text[]))])"
                " || ' no. ' || g, (CAST(:cats AS text[]))[1 + g % 5] FROM generate_series(1, :n) g"
            ),
            {"b": business_id, "n": n, "mains": c.MAINS, "cats": c.CATEGORIES},
        )


def spec(business_id: int, **overrides: Any) -> Any:
    from pipeline.column_batch.spec import OperationSpec

    fields: dict[str, Any] = {
        "target_table": "menu_items",
        "target_column": "description",
        "prompt_template": TEMPLATE,
        "row_filter": {"business_id": business_id},
        "model": "gpt-4o-mini",
        "max_output_tokens": MAX_OUTPUT_TOKENS,
        "batch_size": 50,
        "rows_per_request": 10,
        "max_concurrent_batches": 2,
        "max_total_cost_usd": Decimal("5"),
        "requested_by": "bench",
    }
    return OperationSpec.model_validate({**fields, **overrides})


def run_operation(instance: Any, op_id: int, generation_only: bool = False) -> Any:
    """Materialize the operation's partition of the column-batch assets (estimate, its blocking check,
    generation, checks), as tests/column_batch_helpers.py run_operation does."""
    import dagster as dg

    from pipeline.assets.column_batch import (
        column_batch_estimate,
        column_batch_generation,
        estimate_within_limits,
    )
    from pipeline.checks.column_batch_checks import column_batch_generation_checks
    from pipeline.definitions import defs

    if str(op_id) not in instance.get_dynamic_partitions("column_batch_operations"):
        instance.add_dynamic_partitions("column_batch_operations", [str(op_id)])
    assets = (
        [column_batch_generation]
        if generation_only
        else [
            column_batch_estimate,
            column_batch_generation,
            estimate_within_limits,
            column_batch_generation_checks,
        ]
    )
    return dg.materialize(
        assets, partition_key=str(op_id), instance=instance, resources=defs.resources, raise_on_error=False
    )


def operation_figures(engine: sa.Engine, op_id: int) -> dict[str, Any]:
    with engine.connect() as conn:
        op = (
            conn.execute(
                sa.text(
                    "SELECT state, state_reason, total_rows, spent_usd, reserved_usd, max_total_cost_usd"
                    " FROM column_batch_operations WHERE id = :i"
                ),
                {"i": op_id},
            )
            .mappings()
            .one()
        )
        rows = dict(
            conn.execute(
                sa.text("SELECT status, count(*) FROM column_batch_rows WHERE operation_id = :i GROUP BY 1"),
                {"i": op_id},
            ).all()
        )
        ledger = (
            conn.execute(
                sa.text(
                    "SELECT count(*) AS calls, count(*) FILTER (WHERE status = 'ok') AS calls_ok,"
                    " count(*) FILTER (WHERE http_status = 429) AS calls_429,"
                    " coalesce(sum(input_tokens), 0) AS input_tokens,"
                    " coalesce(sum(output_tokens), 0) AS output_tokens,"
                    " coalesce(sum(cost_usd), 0) AS cost_usd"
                    " FROM usage_ledger WHERE operation_id = :i"
                ),
                {"i": op_id},
            )
            .mappings()
            .one()
        )
    return {**dict(op), "rows": rows, "ledger": dict(ledger)}


def tokens_per_row(engine: sa.Engine, instance: Any, args: argparse.Namespace, rows_per_request: int) -> dict:
    from pipeline.column_batch import service

    business_id = c.add_businesses(engine, 1, prefix=f"cb-rpr{rows_per_request}")[0]
    menu_without_descriptions(engine, business_id, args.token_rows)
    op_id = service.create(engine, spec(business_id, rows_per_request=rows_per_request, batch_size=50))
    service.queue(engine, op_id)
    run = run_operation(instance, op_id)
    figures = operation_figures(engine, op_id)
    done = figures["rows"].get("done", 0)
    ledger = figures["ledger"]
    return {
        "operation": op_id,
        "run_success": run.success,
        "state": figures["state"],
        "rows_done": done,
        "requests": ledger["calls"],
        "input_tokens": ledger["input_tokens"],
        "output_tokens": ledger["output_tokens"],
        "input_tokens_per_row": c.r(ledger["input_tokens"] / max(done, 1), 2),
        "output_tokens_per_row": c.r(ledger["output_tokens"] / max(done, 1), 2),
        "tokens_per_row": c.r((ledger["input_tokens"] + ledger["output_tokens"]) / max(done, 1), 2),
        "cost_usd": ledger["cost_usd"],
    }


def budget_overshoot(engine: sa.Engine, instance: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Like tests/test_column_batch.py's budget test: estimate with room, then lower the cap below the
    estimate so the runtime reservations (not the estimate gate) must stop the run."""
    from pipeline.column_batch import service

    business_id = c.add_businesses(engine, 1, prefix="cb-budget")[0]
    menu_without_descriptions(engine, business_id, args.budget_rows)
    op_id = service.create(
        engine,
        spec(
            business_id,
            batch_size=4,
            rows_per_request=2,
            max_concurrent_batches=5,
            max_total_cost_usd=Decimal(5),
        ),
    )
    estimated = service.estimate(engine, op_id).estimate
    cap = (estimated.expected_cost_usd * Decimal(str(args.budget_fraction))).quantize(Decimal("0.00000001"))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE column_batch_operations SET max_total_cost_usd = :cap, state = 'queued' WHERE id = :i"
            ),
            {"cap": cap, "i": op_id},
        )
    run = run_operation(instance, op_id, generation_only=True)
    figures = operation_figures(engine, op_id)
    spent, ledger_sum = Decimal(figures["spent_usd"]), Decimal(figures["ledger"]["cost_usd"])
    return {
        "operation": op_id,
        "run_success": run.success,
        "state": figures["state"],
        "state_reason": figures["state_reason"],
        "rows": figures["rows"],
        "estimated_cost_usd": estimated.expected_cost_usd,
        "worst_case_cost_usd": estimated.worst_cost_usd,
        "cap_usd": cap,
        "spent_usd": spent,
        "reserved_usd_left": figures["reserved_usd"],
        "ledger_cost_usd": ledger_sum,
        "ledger_calls": figures["ledger"]["calls"],
        "ran_out_mid_run": figures["rows"].get("pending", 0) > 0 and figures["rows"].get("done", 0) > 0,
        "overshoot_usd": max(spent - cap, Decimal(0)),
        "ledger_minus_spent_usd": ledger_sum - spent,
    }


def throughput(engine: sa.Engine, instance: Any, args: argparse.Namespace, server: Any) -> dict[str, Any]:
    from pipeline.column_batch import service
    from pipeline.column_batch.estimate import JSON_TOKENS_PER_ROW

    business_id = c.add_businesses(engine, 1, prefix="cb-throughput")[0]
    menu_without_descriptions(engine, business_id, args.rows)
    with engine.begin() as conn:  # a fresh shared bucket configured with these limits
        conn.execute(sa.text("DELETE FROM api_rate_limits"))
    op_id = service.create(
        engine,
        spec(
            business_id,
            rows_per_request=args.rows_per_request,
            batch_size=args.batch_size,
            max_concurrent_batches=args.concurrent_batches,
        ),
    )
    service.queue(engine, op_id)
    run = run_operation(instance, op_id)
    figures = operation_figures(engine, op_id)

    chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
    ok = [r for r in chats if r.status == 200]
    if not ok:
        raise RuntimeError(f"no chat request succeeded: {figures}")

    def rows_in(request: Any) -> int:
        content = request.body["messages"][-1]["content"]
        return sum(1 for line in content.splitlines() if line.startswith("key="))

    start = min(r.time for r in chats)
    admitted = sorted(
        (r.time + args.latency - start, rows_in(r)) for r in ok
    )  # the stand-in admits after latency
    end = admitted[-1][0]
    whole_windows = math.floor((end - 60) / 60) if end > 60 else 0
    steady_rows = sum(n for t, n in admitted if 60 <= t < 60 + 60 * whole_windows)
    steady_requests = sum(1 for t, _ in admitted if 60 <= t < 60 + 60 * whole_windows)
    total_rows = sum(n for _, n in admitted)
    prompt_tokens = figures["ledger"]["input_tokens"] / len(ok)
    rows_per_request = total_rows / len(ok)
    per_minute = {"rpm": args.rpm_limit, "tpm": args.tpm_limit / prompt_tokens}
    binding = min(per_minute, key=per_minute.__getitem__)
    ceiling_rows = per_minute[binding] * rows_per_request
    # What the pipeline's own limiter charges per request against OPENAI_TPM: input + max_tokens.
    max_tokens = rows_per_request * (MAX_OUTPUT_TOKENS + JSON_TOKENS_PER_ROW) + 16
    steady = steady_rows / whole_windows if whole_windows else None
    return {
        "operation": op_id,
        "run_success": run.success,
        "state": figures["state"],
        "rows_done": figures["rows"].get("done", 0),
        "chat_requests": len(chats),
        "chat_requests_ok": len(ok),
        "chat_requests_429": server.count("/chat/completions", status=429),
        "share_429": c.r(server.count("/chat/completions", status=429) / len(chats)),
        "run_seconds": c.r(end, 2),
        "rows_per_min_whole_run": c.r(total_rows / end * 60, 1),
        "steady_windows": whole_windows,
        "steady_requests": steady_requests,
        "rows_per_min_steady": c.r(steady, 1),
        "ceiling": {
            "rpm_limit": args.rpm_limit,
            "tpm_limit": args.tpm_limit,
            "prompt_tokens_per_request": c.r(prompt_tokens, 1),
            "rows_per_request": c.r(rows_per_request, 2),
            "requests_per_min_by_limit": {k: c.r(v, 1) for k, v in per_minute.items()},
            "binding_limit": binding,
            "rows_per_min": c.r(ceiling_rows, 1),
            "pipeline_limiter_requests_per_min_by_tpm": c.r(args.tpm_limit / (prompt_tokens + max_tokens), 1),
        },
        "ratio": c.r(steady / ceiling_rows) if steady is not None else None,
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:

    params = {
        "rows": args.rows,
        "rpm_limit": args.rpm_limit,
        "tpm_limit": args.tpm_limit,
        "latency_s": args.latency,
        "rows_per_request": args.rows_per_request,
        "batch_size": args.batch_size,
        "concurrent_batches": args.concurrent_batches,
        "token_rows": args.token_rows,
        "budget_rows": args.budget_rows,
        "budget_fraction": args.budget_fraction,
    }
    with c.bench_database() as engine, c.dagster_instance(engine) as instance:
        with c.standin():
            per_row = {n: tokens_per_row(engine, instance, args, n) for n in (10, 1)}
        with c.standin(latency=0.2):
            budget = budget_overshoot(engine, instance, args)
        with c.standin(latency=args.latency, rpm_limit=args.rpm_limit, tpm_limit=args.tpm_limit) as server:
            c.set_env(OPENAI_RPM=str(args.rpm_limit), OPENAI_TPM=str(args.tpm_limit))
            rate = throughput(engine, instance, args, server)

    token_ratio = per_row[10]["tokens_per_row"] / per_row[1]["tokens_per_row"]
    notes = [
        "The stand-in counts only message text as prompt tokens (not the JSON schema of response_format) "
        "and charges only prompt tokens to its TPM window; the pipeline's limiter charges input + "
        "max_tokens (see ceiling.pipeline_limiter_requests_per_min_by_tpm).",
    ]
    if rate["steady_windows"] == 0:
        notes.append("The run was too short for a full steady-state minute; raise --rows.")
    if not budget["ran_out_mid_run"]:
        notes.append("The budget did not run out mid-run; lower --budget-fraction.")
    return c.result(
        "column_batch",
        params,
        {
            "throughput": rate,
            "tokens_per_row": {f"rows_per_request_{k}": v for k, v in per_row.items()},
            "budget": budget,
        },
        {
            "throughput_ceiling_rows_per_min": rate["ceiling"]["rows_per_min"],
            "tokens_per_row_at_rows_per_request_1": per_row[1]["tokens_per_row"],
            "budget_cap_usd": budget["cap_usd"],
        },
        [
            c.check("steady rows/min / rate-limit ceiling", rate["ratio"], ">=", 0.9),
            c.check("share of chat requests answered 429", rate["share_429"], "<", 0.01),
            c.check("tokens per row, 10 vs 1 rows per request", c.r(token_ratio), "<=", 0.4),
            c.check("budget overshoot (USD, spent - cap)", float(budget["overshoot_usd"]), "==", 0),
            c.check("ledger sum - spent_usd (USD)", float(budget["ledger_minus_spent_usd"]), "==", 0),
        ],
        notes,
    )


if __name__ == "__main__":
    parser = c.parser(__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1500, help="rows for the throughput run")
    parser.add_argument("--rpm-limit", type=int, default=60)
    parser.add_argument("--tpm-limit", type=int, default=100_000)
    parser.add_argument(
        "--latency", type=float, default=0.5, help="stand-in seconds per request (throughput)"
    )
    parser.add_argument("--rows-per-request", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--concurrent-batches", type=int, default=2)
    parser.add_argument("--token-rows", type=int, default=100, help="rows for each tokens-per-row run")
    parser.add_argument("--budget-rows", type=int, default=200)
    parser.add_argument("--budget-fraction", type=float, default=0.2, help="cap as a share of the estimate")
    c.main("column_batch", parser, bench)
