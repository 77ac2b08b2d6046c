"""Target rows that change while an operation runs: rows that left its scope since the estimate are not
paid for, and a value someone typed while the row was being generated is kept."""

from __future__ import annotations

import sqlalchemy as sa

from tests.column_batch_helpers import (
    descriptions,
    menu_without_descriptions,
    op_state,
    queue_new,
    run_with_action_at,
)

_TYPED = "Typed by the owner"


def _row_results(engine: sa.Engine, op_id: int) -> dict[int, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT row_key, status, error FROM column_batch_rows WHERE operation_id = :i"),
            {"i": op_id},
        )
        return {int(key): (status, error) for key, status, error in rows}


def test_rows_moved_out_of_the_filter_or_filled_after_the_estimate_are_skipped_unpaid(
    engine, instance, standin
):
    ours = menu_without_descriptions(engine, 5, business="ours")
    theirs = menu_without_descriptions(engine, 2, business="theirs")
    op_id = queue_new(
        engine, batch_size=1, rows_per_request=1, max_concurrent_batches=1, row_filter={"business_id": ours}
    )
    standin.latency = 0.3
    moved, filled = sorted(descriptions(engine))[3:5]  # the last two of ours: their batches run last

    def edit_rows_while_it_runs() -> None:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE menu_items SET business_id = :b WHERE id = :i"), {"b": theirs, "i": moved}
            )
            conn.execute(
                sa.text("UPDATE menu_items SET description = :d WHERE id = :i"), {"d": _TYPED, "i": filled}
            )

    assert run_with_action_at(instance, standin, op_id, 1, edit_rows_while_it_runs).success
    assert op_state(engine, op_id)[0] == "completed"
    results = _row_results(engine, op_id)
    assert results[moved][0] == "skipped" and "row filter" in results[moved][1]
    assert results[filled][0] == "skipped" and "filled" in results[filled][1]
    assert [results[k][0] for k in sorted(results)[:3]] == ["done"] * 3
    assert standin.count("/chat/completions") == 3  # the two rows out of scope were never sent
    values = descriptions(engine)
    assert values[moved] is None  # the other business's row was not written under our prompt
    assert values[filled] == _TYPED


def test_a_value_typed_while_its_row_was_being_generated_is_kept_and_reported(engine, instance, standin):
    menu_without_descriptions(engine, 2)
    op_id = queue_new(engine, batch_size=2, rows_per_request=2, max_concurrent_batches=1)
    standin.latency = 0.5
    first = min(descriptions(engine))

    def type_a_value() -> None:  # the owner types a description while the request is in flight
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE menu_items SET description = :d WHERE id = :i"), {"d": _TYPED, "i": first}
            )

    assert run_with_action_at(instance, standin, op_id, 1, type_a_value).success
    values = descriptions(engine)
    assert values[first] == _TYPED and all(values.values())
    results = _row_results(engine, op_id)
    assert results[first][0] == "skipped" and "kept" in results[first][1]
    assert op_state(engine, op_id)[0] == "completed"
