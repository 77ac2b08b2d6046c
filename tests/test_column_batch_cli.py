"""The column-batch CLI: clear errors for bad input, the full lifecycle, reports and exports."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.column_batch.estimate import Estimate, SafetyLimits, SpendToday, limit_violations
from pipeline.column_batch.quality import duplicate_keys, value_flags
from pipeline.sensors.column_batch_sensor import launch_blocker
from tests.column_batch_helpers import menu_without_descriptions, run_operation, spec, tick

BASE = [
    "column-batch",
    "estimate",
    "--table",
    "menu_items",
    "--column",
    "description",
    "--by",
    "carol",
    "--max-output-tokens",
    "40",
    "--rows-per-request",
    "5",
    "--batch-size",
    "10",
]


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--table", "menu_items", "--column", "price", "--template", "x"],
            "menu_items.price is not an allowed column-batch target. Allowed: faqs.answer, "
            "glossary_terms.definition, menu_items.description",
        ),
        (
            ["--table", "menu_items", "--column", "description", "--template", "About {colour}"],
            "unknown column {colour} of menu_items; available: id, business_id, name",
        ),
        (
            ["--table", "menu_items", "--column", "description", "--template", "x", "--batch-size", "500"],
            "batch_size: Input should be less than or equal to 200",
        ),
        (
            ["--table", "menu_items", "--column", "description", "--template", "x", "--concurrency", "9"],
            "max_concurrent_batches: Input should be less than or equal to 5",
        ),
        (
            ["--table", "menu_items", "--column", "description", "--template", "x", "--max-cost", "0"],
            "max_total_cost_usd: Input should be greater than 0",
        ),
        (
            ["--table", "menu_items", "--column", "description", "--template", "x", "--temperature", "2.5"],
            "temperature: Input should be less than or equal to 2",
        ),
        (
            ["--table", "menu_items", "--column", "description", "--template", "x", "--model", "gpt-nope"],
            "No price is known for model 'gpt-nope'",
        ),
        (
            ["--table", "menu_items", "--column", "description", "--template", "x", "--filter", "secret=1"],
            "row_filter names unknown column 'secret'",
        ),
        (
            ["--table", "menu_items", "--column", "description", "--template", "{name"],
            "prompt_template is not a valid template",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_nothing_is_created(engine, args, message):
    result = _invoke("column-batch", "estimate", "--by", "dave", *args)
    assert result.exit_code == 1 and message in result.output, result.output
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM column_batch_operations")).scalar() == 0


def test_empty_selection_and_over_limit_estimates_are_refused_with_numbers(engine):
    menu_without_descriptions(engine, 3)
    empty = _invoke(*BASE, "--template", "Describe {name}", "--filter", "business_id=999")
    assert empty.exit_code == 1 and "The selection is empty" in empty.output
    over = _invoke(*BASE, "--template", "Describe {name}", "--max-cost", "0.0000001")
    assert over.exit_code == 1 and "exceeds max_total_cost_usd 0.0000001 by" in over.output


def test_lifecycle_estimate_start_list_show_report_and_exports(engine, instance, tmp_path):
    menu_without_descriptions(engine, 7)
    estimate = _invoke(*BASE, "--template", "Describe {name} in one sentence.")
    assert estimate.exit_code == 0 and "pipeline column-batch start 1" in estimate.output
    assert _invoke("column-batch", "start", "1").exit_code == 0
    assert [r.partition_key for r in tick(instance).run_requests] == ["1"]
    assert run_operation(instance, 1).success

    listing = json.loads(_invoke("column-batch", "list", "--json").output)
    assert [(o["id"], o["state"], o["done"], o["total_rows"]) for o in listing] == [(1, "completed", 7, 7)]
    shown = json.loads(_invoke("column-batch", "show", "1").output)
    assert shown["state"] == "completed" and shown["done"] == 7
    assert "completed" in _invoke("column-batch", "show", "1", "--watch").output

    table = _invoke("column-batch", "report", "1").output
    assert "latency_p95_ms" in table and "actual_vs_estimate" in table
    with engine.connect() as conn:
        billed = conn.execute(sa.text("SELECT sum(cost_usd), sum(input_tokens) FROM usage_ledger")).one()
    for fmt in ("csv", "json", "xlsx"):
        out = tmp_path / f"report.{fmt}"
        assert _invoke("column-batch", "report", "1", "--format", fmt, "--out", str(out)).exit_code == 0
    assert len(pd.read_csv(tmp_path / "report.csv")) == 7
    summary = json.loads((tmp_path / "report.json").read_text())["summary"]
    assert Decimal(summary["cost_usd"]) == billed[0] and summary["input_tokens"] == billed[1]
    assert summary["rows_done"] == 7 and summary["requests"] == 2
    sheets = pd.read_excel(tmp_path / "report.xlsx", sheet_name=None)
    assert set(sheets) == {"summary", "rows"} and len(sheets["rows"]) == 7


def test_controls_reject_impossible_transitions(engine):
    menu_without_descriptions(engine, 2)
    _invoke(*BASE, "--template", "Describe {name}")
    assert "only paused ones resume" in _invoke("column-batch", "resume", "1").output
    assert _invoke("column-batch", "pause", "1").exit_code == 1
    assert "No column-batch operation 42" in _invoke("column-batch", "show", "42").output
    assert _invoke("column-batch", "cancel", "1").exit_code == 0
    assert "cancelled" in _invoke("column-batch", "start", "1").output


def test_launch_quotas_hold_operations_back():
    counts = {"running": 0, "last_hour": 0, "last_day": 0}
    assert launch_blocker(counts, 0) is None
    assert "5 operations running" in launch_blocker({**counts, "running": 5}, 0)
    assert "last hour (max 10)" in launch_blocker({**counts, "last_hour": 10}, 0)
    assert "today (max 50)" in launch_blocker({**counts, "last_day": 50}, 0)
    assert "this user" in launch_blocker(counts, 20)


def test_estimate_limits_name_each_broken_limit():
    est = Estimate(6000, 600, 10, 10, 10, Decimal("120"), Decimal("200"), Decimal("0.02"), 100_000.0, "v")
    found = {
        v.limit
        for v in limit_violations(
            est,
            spec(max_cost_per_row_usd=Decimal("0.01")),
            SafetyLimits(),
            SpendToday(Decimal("450"), Decimal("0")),
        )
    }
    assert found == {
        "max_rows_per_operation",
        "max_total_cost_usd",
        "max_cost_per_operation_usd",
        "max_cost_per_row_usd",
        "max_total_cost_per_day_usd",
        "user_max_cost_per_day_usd",
        "max_duration_hours",
    }


def test_quality_flags():
    assert value_flags("", "stop") == ["empty"]
    assert value_flags("A crisp salad", "length") == ["truncated"]
    assert value_flags("I'm sorry, I can't help with that.", "stop") == ["refusal"]
    assert value_flags("Smoky grilled corn", "stop") == []
    assert duplicate_keys({"1": "Tasty dish", "2": "tasty  DISH", "3": "Other"}) == {"1", "2"}
