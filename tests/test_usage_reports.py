"""Usage reports, budgets and alerts against a seeded ledger whose totals are computed here."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import dagster as dg
import pandas as pd
import sqlalchemy as sa
from click.testing import CliRunner

from pipeline.assets.usage import usage_daily, usage_report
from pipeline.checks.usage_checks import usage_daily_checks
from pipeline.cli.main import cli
from pipeline.db import budgets
from pipeline.definitions import defs
from pipeline.resources.database import DatabaseResource
from pipeline.sensors.alert_sensor import alert_sensor
from pipeline.usage.evaluation import budget_level, spike
from pipeline.usage.periods import period_containing, previous, trend_pct
from tests.helpers import add_business
from tests.usage_helpers import seed_ledger


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def _materialize_day(instance, day: date) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [usage_daily, usage_daily_checks],
        partition_key=day.isoformat(),
        instance=instance,
        resources=defs.resources,
    )


def test_daily_rollup_matches_the_ledger(engine, instance):
    ids = [add_business(engine, f"u{i}", 0, 0, 0) for i in range(3)]
    rows = seed_ledger(engine, ids)
    day = rows[0].at.date()
    result = _materialize_day(instance, day)
    expected = [r for r in rows if r.at.date() == day]
    meta = result.asset_materializations_for_node("usage_daily")[0].metadata
    assert meta["requests"].value == len(expected)
    assert meta["errors"].value == sum(r.status == "error" for r in expected)
    assert Decimal(str(meta["cost_usd"].value)).quantize(Decimal("0.000001")) == sum(
        r.cost_usd for r in expected
    ).quantize(Decimal("0.000001"))
    assert meta["chart"].value.startswith("![Cost and tokens")
    with engine.connect() as conn:
        per_business = dict(
            conn.execute(
                sa.text("SELECT business_id, sum(cost_usd) FROM usage_daily WHERE day = :d GROUP BY 1"),
                {"d": day},
            ).all()
        )
    for b in ids:
        assert per_business.get(b, 0) == sum(r.cost_usd for r in expected if r.business_id == b)
    # Rebuilding the same day gives the same rows (idempotent).
    _materialize_day(instance, day)
    with engine.connect() as conn:
        assert conn.execute(
            sa.text("SELECT sum(requests) FROM usage_daily WHERE day = :d"), {"d": day}
        ).scalar() == len(expected)


def test_period_report_trend_top_consumers_and_exports(engine, tmp_path, monkeypatch):
    ids = [add_business(engine, f"r{i}", 0, 0, 0) for i in range(3)]
    rows = seed_ledger(engine, ids, days=20)
    today = date.today()
    week, before = period_containing("week", today), previous(period_containing("week", today))

    def cost(p, business=None):
        return sum(
            r.cost_usd
            for r in rows
            if p.start <= r.at.date() < p.end and (business is None or r.business_id == business)
        )

    monkeypatch.setenv("EXPORT_DIR", str(tmp_path))
    out = tmp_path / "week.json"
    assert _run("usage", "report", "--period", "week", "--format", "json", "--out", str(out)).exit_code == 0
    report = json.loads(out.read_text())
    assert Decimal(str(report["summary"]["cost_usd"])) == cost(week)
    assert report["summary"]["cost_trend_pct"] == trend_pct(float(cost(week)), float(cost(before)))
    top = report["top_consumers"][0]
    assert Decimal(str(top["cost_usd"])) == max(cost(week, b) for b in ids)

    one = tmp_path / "b.csv"
    assert (
        _run(
            "usage",
            "report",
            "--business",
            str(ids[0]),
            "--period",
            "month",
            "--format",
            "csv",
            "--out",
            str(one),
        ).exit_code
        == 0
    )
    breakdown = pd.read_csv(one)
    assert set(breakdown["business_id"]) == {ids[0]}
    month = period_containing("month", today)
    assert Decimal(str(round(breakdown["cost_usd"].sum(), 8))) == cost(month, ids[0])

    xlsx = tmp_path / "ledger.xlsx"
    start = (today - timedelta(days=3)).isoformat()
    assert (
        _run(
            "usage",
            "export",
            "--from",
            start,
            "--to",
            today.isoformat(),
            "--format",
            "xlsx",
            "--out",
            str(xlsx),
        ).exit_code
        == 0
    )
    ledger = pd.read_excel(xlsx, sheet_name="ledger")
    assert len(ledger) == sum(1 for r in rows if r.at.date() >= today - timedelta(days=3))


def test_usage_report_asset_writes_every_format(engine, instance, tmp_path, monkeypatch):
    from pipeline.settings import get_settings

    monkeypatch.setenv("EXPORT_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        seed_ledger(engine, [add_business(engine, "exp", 0, 0, 0)], days=3)
        result = dg.materialize([usage_report], instance=instance, resources=defs.resources)
    finally:
        get_settings.cache_clear()
    assert result.success
    names = {p.name for p in tmp_path.iterdir()}
    assert {f"usage-{k}-" for k in ("day", "week", "month")} <= {n.split("20")[0] for n in names}
    assert {p.suffix for p in tmp_path.iterdir()} == {".csv", ".json", ".xlsx"}


def test_bad_report_input_gets_clear_errors(engine):
    assert "Unknown business 999" in _run("usage", "report", "--business", "999").output
    assert "is after --to" in _run("usage", "export", "--from", "2026-02-01", "--to", "2026-01-01").output
    future = (date.today() + timedelta(days=30)).isoformat()
    assert "in the future" in _run("usage", "export", "--from", future, "--to", future).output
    assert "Invalid value for '--period'" in _run("usage", "report", "--period", "year").output
    assert "Invalid value for '--format'" in _run("usage", "report", "--format", "pdf").output
    assert (
        "must be greater than 0"
        in _run("budget", "create", "--scope", "global", "--period", "day", "--amount", "-5").output
    )
    assert (
        "between 1 and 100"
        in _run(
            "budget",
            "create",
            "--scope",
            "global",
            "--period",
            "day",
            "--amount",
            "5",
            "--thresholds",
            "50,180",
        ).output
    )
    assert (
        "give --id"
        in _run("budget", "create", "--scope", "business", "--period", "day", "--amount", "5").output
    )
    assert (
        "Unknown business 42"
        in _run(
            "budget", "create", "--scope", "business", "--id", "42", "--period", "day", "--amount", "5"
        ).output
    )
    for bad in ("op-7", "4242"):
        out = _run(
            "budget", "create", "--scope", "operation", "--id", bad, "--period", "day", "--amount", "5"
        )
        assert f"Unknown operation {bad}" in out.output and out.exit_code != 0


def test_budget_checks_turn_yellow_then_red_and_alert_once(engine, instance, caplog):
    b = add_business(engine, "spender", 0, 0, 0)
    assert (
        _run(
            "budget",
            "create",
            "--scope",
            "business",
            "--id",
            str(b),
            "--period",
            "day",
            "--amount",
            "0.01",
            "--by",
            "finance",
        ).exit_code
        == 0
    )
    today = date.today()

    def spend(amount: str) -> None:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO usage_ledger (business_id, workload, provider, model, endpoint, cost_usd, latency_ms,"
                    " status) VALUES (:b, 'embedding_sync', 'openai', 'text-embedding-3-small', 'embeddings', :c, 50,"
                    " 'ok')"
                ),
                {"b": b, "c": Decimal(amount)},
            )

    with engine.begin() as conn:  # a budget written by hand with an id that is no number breaks no check
        budgets.create(conn, "operation", "op-7", "day", Decimal("1"), [50], "someone")

    def budget_check():
        result = _materialize_day(instance, today)
        return next(e for e in result.get_asset_check_evaluations() if e.check_name == "budgets")

    spend("0.0085")  # 85%: past 50 and 80
    check = budget_check()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN and "(80)" in check.description
    budget_check()  # evaluated again: no new alert for the same level
    spend("0.0030")  # 115%: over budget
    check = budget_check()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    with engine.connect() as conn:
        fired = conn.execute(
            sa.text("SELECT level, severity FROM alerts WHERE kind = 'budget' ORDER BY id")
        ).all()
    assert fired == [("80", "warning"), ("exceeded", "critical")]
    listing = json.loads(_run("budget", "list", "--json").output)
    assert listing[0]["status"] == "exceeded" and Decimal(listing[0]["spent_usd"]) == Decimal("0.0115")

    with dg.build_sensor_context(instance=instance, resources={"database": DatabaseResource()}) as ctx:
        assert "Delivered 2 of 2" in alert_sensor(ctx).skip_message
        assert "Delivered 0 of 0" in alert_sensor(ctx).skip_message  # each alert is reported once


def test_alerts_are_posted_to_slack_when_configured(engine, instance, monkeypatch):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from pipeline.db import alerts
    from pipeline.settings import get_settings

    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    get_settings.cache_clear()
    try:
        with engine.begin() as conn:
            alerts.fire(conn, "milestone", "operation:1", "op", "50", "info", "operation 1 is 50% done")
        with dg.build_sensor_context(instance=instance, resources={"database": DatabaseResource()}) as ctx:
            alert_sensor(ctx)
    finally:
        server.shutdown()
        get_settings.cache_clear()
    assert received == [{"text": ":information_source: [milestone] operation 1 is 50% done"}]


def test_a_malformed_slack_webhook_keeps_alerts_pending_and_is_never_logged(
    engine, instance, monkeypatch, caplog
):
    from pipeline.db import alerts
    from pipeline.settings import get_settings

    secret = "hooks.slack.com/services/T0/B0/s3cr3tTOKEN"  # the scheme left out when pasting
    monkeypatch.setenv("SLACK_WEBHOOK_URL", secret)
    get_settings.cache_clear()
    try:
        with engine.begin() as conn:
            alerts.fire(conn, "milestone", "operation:1", "op", "50", "info", "operation 1 is 50% done")
        with dg.build_sensor_context(instance=instance, resources={"database": DatabaseResource()}) as ctx:
            assert "Delivered 0 of 1" in alert_sensor(ctx).skip_message
    finally:
        get_settings.cache_clear()
    assert "s3cr3tTOKEN" not in caplog.text
    with engine.connect() as conn:
        assert len(alerts.unnotified(conn)) == 1  # delivered once the URL is fixed


def test_evaluation_rules():
    assert budget_level(Decimal("4"), Decimal("10"), (50, 80, 95)) is None
    assert budget_level(Decimal("9.6"), Decimal("10"), (50, 80, 95)) == ("95", "warning")
    assert budget_level(Decimal("10.01"), Decimal("10"), (50, 80, 95)) == ("exceeded", "critical")
    assert spike(10.0, [1.0, 2.0, 1.5], 3.0) and not spike(4.0, [1.0, 2.0, 1.5], 3.0)
    assert not spike(100.0, [1.0], 3.0)  # too little history to call it a spike


def test_usage_days_are_utc_days_whatever_the_server_time_zone(engine):
    """Dagster's daily partitions are UTC days; a server set to New York must not move a day's usage."""
    from pipeline.db import usage_reports as sql
    from pipeline.db.engine import engine_for

    with engine.connect() as conn:
        db = conn.execute(sa.text("SELECT current_database()")).scalar_one()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"ALTER DATABASE \"{db}\" SET timezone = 'America/New_York'"))
    fresh = engine_for(engine.url.render_as_string(hide_password=False), 0)
    try:
        with fresh.begin() as conn:  # 02:00 UTC on 1 March is still 28 February in New York
            conn.execute(
                sa.text(
                    "INSERT INTO usage_ledger (workload, provider, model, endpoint, cost_usd, latency_ms, status,"
                    " created_at) VALUES ('embedding_sync', 'openai', 'text-embedding-3-small', 'embeddings',"
                    " 0.5, 50, 'ok', '2026-03-01 02:00+00')"
                )
            )
            days = sql.daily_health(conn, date(2026, 3, 1), date(2026, 3, 2))
        assert list(days) == [date(2026, 3, 1)] and days[date(2026, 3, 1)]["cost_usd"] == Decimal("0.5")
    finally:
        fresh.dispose()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{db}" RESET timezone'))
