"""Column-batch operations end to end: sensor launch, estimate gate, packing, checkpoints, controls."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import dagster as dg
import pytest
import sqlalchemy as sa

from pipeline.column_batch import service
from pipeline.db import spend
from pipeline.definitions import defs
from tests.column_batch_helpers import (
    descriptions,
    menu_without_descriptions,
    op_state,
    queue_new,
    run_operation,
    run_with_action_at,
    tick,
)
from tests.helpers import ledger


def _chat_requests(standin) -> int:
    return standin.count("/chat/completions")


def test_queued_operation_is_launched_by_the_sensor_and_fills_the_column(engine, instance, standin):
    menu_without_descriptions(engine, 10)
    with engine.begin() as conn:  # one row already has a value: fill-only must leave it alone
        conn.execute(sa.text("UPDATE menu_items SET description = 'Hand written' WHERE id = 1"))
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM content_changes"))
    op_id = queue_new(engine)
    result = tick(instance)
    assert [r.partition_key for r in result.run_requests] == [str(op_id)]
    assert tick(instance).run_requests == []  # launched once, not on every tick

    run = run_operation(instance, op_id)
    assert run.success
    values = descriptions(engine)
    assert values[1] == "Hand written"
    assert all(v for v in values.values())
    assert op_state(engine, op_id)[0] == "completed"
    # 9 rows, 2 per request: 5 requests; each billed once, all in the ledger under the operation.
    calls = [r for r in ledger(engine) if r.operation_id == op_id]
    assert len(calls) == _chat_requests(standin) == 5 and all(r.status == "ok" for r in calls)
    checks = {e.check_name: e.passed for e in run.get_asset_check_evaluations()}
    assert checks == {
        "estimate_within_limits": True,
        "cost_within_budget": True,
        "cost_per_row": True,
        "error_rate": True,
        "output_quality": True,
    }
    with engine.connect() as conn:  # generated text goes through change capture: it will be re-embedded
        assert (
            conn.execute(sa.text("SELECT count(*) FROM content_changes WHERE operation = 'U'")).scalar() == 9
        )
        spent = conn.execute(sa.text("SELECT spent_usd, reserved_usd FROM column_batch_operations")).one()
    assert spent[0] == sum(r.cost_usd for r in calls) and spent[1] == 0


def test_launchpad_job_creates_and_queues_an_operation(engine, instance):
    menu_without_descriptions(engine, 3)
    job = defs.get_job_def("create_column_batch_operation_job")
    result = job.execute_in_process(
        instance=instance,
        run_config={
            "ops": {
                "create_column_batch_operation": {
                    "config": {
                        "requested_by": "bob",
                        "max_output_tokens": 30,
                        "rows_per_request": 3,
                        "batch_size": 3,
                    }
                }
            }
        },
    )
    op_id = result.output_for_node("create_column_batch_operation")
    assert op_state(engine, op_id)[0] == "queued"
    assert str(op_id) in instance.get_dynamic_partitions("column_batch_operations")


def test_estimate_over_a_limit_blocks_generation_and_says_by_how_much(engine, instance, standin):
    menu_without_descriptions(engine, 20)
    op_id = queue_new(engine, max_total_cost_usd=Decimal("0.000001"))
    run = run_operation(instance, op_id)
    assert _chat_requests(standin) == 0
    check = next(e for e in run.get_asset_check_evaluations() if e.check_name == "estimate_within_limits")
    assert not check.passed and "exceeds max_total_cost_usd 0.000001 by" in check.description
    assert not run.asset_materializations_for_node("column_batch_generation")
    state, reason = op_state(engine, op_id)
    assert state == "paused" and "max_total_cost_usd" in reason


def test_malformed_or_partial_answers_fall_back_to_smaller_packs_for_missing_keys_only(
    engine, instance, standin
):
    menu_without_descriptions(engine, 4)
    op_id = queue_new(engine, rows_per_request=4, batch_size=4)
    standin.inject("wrong_count")  # the 4-row answer lacks one row
    run = run_operation(instance, op_id)
    assert run.success and all(descriptions(engine).values())
    # 1 partial answer (3 rows kept) + 1 request for the single missing row.
    assert _chat_requests(standin) == 2
    bodies = [r.body for r in standin.requests if r.path.endswith("/chat/completions")]
    assert bodies[1]["messages"][1]["content"].count("key=") == 1

    standin.reset()
    menu_without_descriptions(engine, 4, business="cb2")
    op2 = queue_new(engine, rows_per_request=4, batch_size=4)
    standin.inject("malformed_content")
    assert run_operation(instance, op2).success
    assert _chat_requests(standin) == 3  # the unparseable 4-row answer, then two 2-row halves
    assert all(descriptions(engine).values())


def test_a_pause_during_the_fallback_for_a_partial_answer_keeps_the_rows_paid_for(engine, instance, standin):
    menu_without_descriptions(engine, 4)
    op_id = queue_new(engine, rows_per_request=4, batch_size=4)
    standin.inject("wrong_count")  # the 4-row answer lacks one row: a request for it alone would follow
    standin.latency = 0.5

    assert run_with_action_at(instance, standin, op_id, 1, lambda: service.pause(engine, op_id)).success
    assert op_state(engine, op_id)[0] == "paused"
    assert sum(1 for v in descriptions(engine).values() if v) == 3  # the partial answer's rows are written

    service.resume(engine, op_id)
    assert tick(instance).run_requests
    assert run_operation(instance, op_id).success
    assert op_state(engine, op_id)[0] == "completed" and all(descriptions(engine).values())
    assert _chat_requests(standin) == 2  # the three answered rows were not generated (and paid) again


def test_pause_takes_effect_within_a_batch_and_resume_bills_no_row_twice(engine, instance, standin):
    menu_without_descriptions(engine, 12)
    op_id = queue_new(engine, batch_size=4, rows_per_request=2)
    standin.latency = 0.4

    assert run_with_action_at(instance, standin, op_id, 3, lambda: service.pause(engine, op_id)).success
    filled = sum(1 for v in descriptions(engine).values() if v)
    assert op_state(engine, op_id)[0] == "paused" and 4 <= filled < 12

    service.resume(engine, op_id)
    assert tick(instance).run_requests
    assert run_operation(instance, op_id).success
    assert op_state(engine, op_id)[0] == "completed" and all(descriptions(engine).values())
    assert _chat_requests(standin) == 6  # 12 rows / 2 per request: nothing generated twice
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT max(attempts) FROM column_batch_rows")).scalar() == 1


def test_cancel_with_rollback_restores_previous_values_but_not_later_edits(engine, instance):
    menu_without_descriptions(engine, 4)
    op_id = queue_new(engine, rows_per_request=4, batch_size=4)
    assert run_operation(instance, op_id).success
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE menu_items SET description = 'Edited by the owner' WHERE id = 2"))
    restored = service.cancel(engine, op_id, rollback=True)
    assert restored == 3
    assert descriptions(engine) == {1: None, 2: "Edited by the owner", 3: None, 4: None}
    assert op_state(engine, op_id)[0] == "cancelled"


def test_budget_is_never_exceeded_with_concurrent_batches(engine, instance, standin):
    menu_without_descriptions(engine, 40)
    # Room for a few requests' worst case only; 5 batches in flight race for it.
    op_id = service.create(
        engine,
        __import__("tests.column_batch_helpers", fromlist=["spec"]).spec(
            batch_size=4, rows_per_request=2, max_concurrent_batches=5, max_total_cost_usd=Decimal("0.0002")
        ),
    )
    with engine.begin() as conn:  # skip the estimate gate to test the runtime reservation alone
        conn.execute(
            sa.text("UPDATE column_batch_operations SET max_total_cost_usd = 1 WHERE id = :i"), {"i": op_id}
        )
    service.estimate(engine, op_id)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE column_batch_operations SET max_total_cost_usd = 0.0002, state = 'queued'"
                " WHERE id = :i"
            ),
            {"i": op_id},
        )
    standin.latency = 0.2
    from pipeline.assets.column_batch import column_batch_generation

    instance.add_dynamic_partitions("column_batch_operations", [str(op_id)])
    result = dg.materialize(
        [column_batch_generation], partition_key=str(op_id), instance=instance, resources=defs.resources
    )
    standin.latency = 0
    assert result.success
    state, reason = op_state(engine, op_id)
    assert state == "paused" and "Budget operation" in reason
    with engine.connect() as conn:
        spent, reserved = conn.execute(
            sa.text("SELECT spent_usd, reserved_usd FROM column_batch_operations")
        ).one()
    billed = sum(r.cost_usd for r in ledger(engine))
    assert 0 < billed == spent <= Decimal("0.0002") and reserved == 0
    assert 0 < sum(1 for v in descriptions(engine).values() if v) < 40


def test_error_rate_over_the_maximum_pauses_the_operation(engine, instance, standin):
    menu_without_descriptions(engine, 8)
    op_id = queue_new(engine, batch_size=4, rows_per_request=4, max_error_rate=0.2)
    standin.inject("server_error", times=30)
    run = run_operation(instance, op_id)
    assert run.success
    state, reason = op_state(engine, op_id)
    assert state == "paused" and "error rate" in reason
    checks = {e.check_name: e.passed for e in run.get_asset_check_evaluations()}
    assert checks["error_rate"] is False
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(*) FROM column_batch_rows WHERE status = 'pending'")).scalar()
            > 0
        )


def test_quota_error_mid_operation_fails_it_with_the_reason_and_keeps_finished_batches(
    engine, instance, standin
):
    menu_without_descriptions(engine, 8)
    op_id = queue_new(engine, batch_size=4, rows_per_request=4)
    standin.inject("latency", seconds=0)
    standin.inject("insufficient_quota", times=3)  # the second request hits an empty account
    assert run_operation(instance, op_id).success
    state, reason = op_state(engine, op_id)
    assert state == "failed" and "insufficient_quota" in reason
    assert _chat_requests(standin) == 2  # no retry storm
    assert sum(1 for v in descriptions(engine).values() if v) == 4  # the first batch stays written


def test_glossary_definitions_are_filled(engine, instance):
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO glossary_terms (term) VALUES ('umami'), ('sous vide'), ('dashi')"))
    op_id = queue_new(
        engine,
        target_table="glossary_terms",
        target_column="definition",
        prompt_template="Define the culinary term '{term}' in one sentence.",
    )
    assert run_operation(instance, op_id).success
    with engine.connect() as conn:
        assert all(conn.execute(sa.text("SELECT definition FROM glossary_terms")).scalars())


def test_milestones_and_health_changes_are_alerted_once(engine, instance, standin):
    menu_without_descriptions(engine, 8)
    op_id = queue_new(engine, batch_size=2, rows_per_request=2)
    assert run_operation(instance, op_id).success
    with engine.connect() as conn:
        fired = conn.execute(sa.text("SELECT kind, level FROM alerts ORDER BY id")).all()
    assert fired == [("milestone", "25"), ("milestone", "50"), ("milestone", "75"), ("milestone", "100")]

    menu_without_descriptions(engine, 4, business="cb2")
    op2 = queue_new(engine, batch_size=4, rows_per_request=4)
    standin.inject("insufficient_quota")
    run_operation(instance, op2)
    with engine.connect() as conn:
        health = conn.execute(sa.text("SELECT level, severity FROM alerts WHERE kind = 'health'")).all()
    assert health == [("failed", "critical")]


def test_an_operation_whose_run_died_is_paused_for_resume(engine, instance):
    menu_without_descriptions(engine, 2)
    op_id = queue_new(engine)
    tick(instance)  # launched; no run actually starts in this test
    with engine.begin() as conn:  # as if the run process was killed a while ago
        conn.execute(
            sa.text(
                "UPDATE column_batch_operations SET state = 'running',"
                " updated_at = now() - interval '10 minutes' WHERE id = :i"
            ),
            {"i": op_id},
        )
    with engine.begin() as conn:  # it died mid-request: that request's worst case stays reserved
        spend.reserve(
            conn, op_id, "dead-run", "alice", Decimal("0.25"), Decimal(100), Decimal(100), Decimal(100)
        )
    tick(instance)
    state, reason = op_state(engine, op_id)
    assert state == "paused" and "ended without finishing" in reason
    with engine.connect() as conn:  # given back: the caps are not lowered for good
        held = conn.execute(sa.text("SELECT reserved_usd FROM column_batch_operations")).scalar_one()
        counters = conn.execute(sa.text("SELECT sum(reserved_usd) FROM spend_counters")).scalar_one()
    assert held == 0 and counters == 0


def test_an_operation_run_launched_from_the_ui_is_not_taken_for_dead(engine, instance):
    menu_without_descriptions(engine, 2)
    op_id = queue_new(engine)
    tick(instance)
    # Someone materialized the partition from the UI: a live run with the partition's tag only.
    instance.add_run(
        dg.DagsterRun(
            job_name="__ASSET_JOB",
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": str(op_id)},
            asset_selection=frozenset({dg.AssetKey("column_batch_generation")}),
        )
    )
    with engine.begin() as conn:  # busy on a long batch: nothing written for a while
        conn.execute(
            sa.text(
                "UPDATE column_batch_operations SET state = 'running',"
                " updated_at = now() - interval '10 minutes' WHERE id = :i"
            ),
            {"i": op_id},
        )
    tick(instance)
    assert op_state(engine, op_id)[0] == "running"


def test_a_row_deleted_after_the_estimate_is_skipped_and_the_operation_completes(engine, instance, standin):
    menu_without_descriptions(engine, 4)
    op_id = queue_new(engine, batch_size=1, rows_per_request=1, max_concurrent_batches=1)
    standin.latency = 0.3
    gone: list[str] = []

    def delete_a_later_row() -> None:  # someone deletes a dish while the operation runs
        with engine.begin() as conn:
            key = (
                conn.execute(
                    sa.text(
                        "SELECT row_key FROM column_batch_rows WHERE operation_id = :i ORDER BY batch_no DESC"
                    ),
                    {"i": op_id},
                )
                .scalars()
                .first()
            )
            conn.execute(sa.text("DELETE FROM menu_items WHERE id = CAST(:k AS bigint)"), {"k": key})
        gone.append(key)

    assert run_with_action_at(instance, standin, op_id, 1, delete_a_later_row).success
    assert op_state(engine, op_id)[0] == "completed" and all(descriptions(engine).values())
    with engine.connect() as conn:
        status, error = conn.execute(
            sa.text("SELECT status, error FROM column_batch_rows WHERE row_key = :k"), {"k": gone[0]}
        ).one()
    assert status == "skipped" and "deleted" in error
    with engine.connect() as conn:  # and the 100% milestone still fires
        done = conn.execute(sa.text("SELECT count(*) FROM alerts WHERE kind = 'milestone' AND level = '100'"))
        assert done.scalar_one() == 1


def test_an_operation_resumed_days_after_it_first_started_runs_to_completion(engine, instance, standin):
    menu_without_descriptions(engine, 4)
    op_id = queue_new(engine, batch_size=2, rows_per_request=2, max_concurrent_batches=1)
    standin.latency = 0.3

    assert run_with_action_at(instance, standin, op_id, 1, lambda: service.pause(engine, op_id)).success
    assert op_state(engine, op_id)[0] == "paused"
    with engine.begin() as conn:  # it first started on Friday; paused over the weekend; resumed on Monday
        conn.execute(
            sa.text(
                "UPDATE column_batch_operations SET started_at = now() - interval '3 days' WHERE id = :i"
            ),
            {"i": op_id},
        )
    service.resume(engine, op_id)
    assert tick(instance).run_requests
    assert run_operation(instance, op_id).success
    assert op_state(engine, op_id)[0] == "completed" and all(descriptions(engine).values())


def test_starting_an_operation_whose_run_is_already_launched_is_refused(engine, instance):
    menu_without_descriptions(engine, 2)
    op_id = queue_new(engine)
    assert tick(instance).run_requests  # launched; its run waits in the run queue
    with pytest.raises(service.OperationStateError, match="already launched"):
        service.queue(engine, op_id)  # a second `start` while it waits
    assert tick(instance).run_requests == []  # no second run on the same rows


def test_a_second_run_on_an_operation_another_run_is_working_on_generates_nothing(engine, instance, standin):
    from pipeline.column_batch.runner import OperationRunner
    from pipeline.db import column_batch as store
    from pipeline.settings import get_settings

    menu_without_descriptions(engine, 4)
    op_id = queue_new(engine, batch_size=2, rows_per_request=2, max_concurrent_batches=1)
    standin.latency = 0.4
    first = threading.Thread(target=run_operation, args=(instance, op_id))
    first.start()
    while _chat_requests(standin) < 1:  # the first run has claimed the operation and is generating
        time.sleep(0.02)
    # A second run of the same operation (paused and resumed while the first still waited in the queue).
    with engine.connect() as conn:
        op = store.load_operation(conn, op_id)
    chat = defs.resources["openai"].chat_service()
    second = OperationRunner(engine, chat, op, get_settings().safety_limits(), "second-run").run()
    first.join()
    assert second.reason is not None and "nothing to run" in second.reason and second.rows_done == 0
    assert op_state(engine, op_id)[0] == "completed" and all(descriptions(engine).values())
    assert _chat_requests(standin) == 2  # 4 rows, 2 per request: each generated and paid once
