"""Provider faults: retried when transient, fatal at once when not, always in the ledger, never leaking
the API key."""

from __future__ import annotations

import sqlalchemy as sa

from tests.conftest import TEST_API_KEY
from tests.helpers import SensorDriver, add_business, ledger, poison_menu_item, vectors


def _sync_one(engine, instance):
    add_business(engine, "faulty", menu=3, policies=0, faqs=0)
    driver = SensorDriver(instance)
    requests = driver.tick().run_requests
    assert len(requests) == 1
    return driver, requests[0]


def test_rate_limit_is_retried_after_retry_after(engine, instance, standin):
    driver, request = _sync_one(engine, instance)
    standin.inject("rate_limit", retry_after=0.3)
    result = driver.execute(request)

    assert result.success
    assert len(vectors(engine)) == 3
    rows = ledger(engine)
    assert [(r.status, r.error_type, r.http_status) for r in rows] == [
        ("error", "rate_limit_exceeded", 429),
        ("ok", None, 200),
    ]
    assert rows[0].cost_usd == 0 and rows[1].input_tokens > 0 and rows[1].cost_usd > 0


def test_server_errors_timeouts_and_malformed_answers_are_retried(engine, instance, standin):
    driver, request = _sync_one(engine, instance)
    standin.inject("server_error")
    standin.inject("malformed_json")
    result = driver.execute(request)
    assert result.success and len(vectors(engine)) == 3
    assert [r.error_type for r in ledger(engine)] == ["http_500", "malformed_response", None]


def test_timeout_is_retried(engine, instance, standin):
    driver, request = _sync_one(engine, instance)
    standin.inject("timeout", seconds=4)  # the tests' client timeout is 2 s
    result = driver.execute(request)
    assert result.success and len(vectors(engine)) == 3
    assert [r.error_type for r in ledger(engine)] == ["timeout", None]


def test_wrong_number_of_vectors_is_not_written(engine, instance, standin):
    driver, request = _sync_one(engine, instance)
    standin.inject("wrong_count")
    assert driver.execute(request).success
    assert [r.error_type for r in ledger(engine)] == ["malformed_response", None]
    assert len(vectors(engine)) == 3


def test_insufficient_quota_stops_at_once_without_retry(engine, instance, standin):
    driver, request = _sync_one(engine, instance)
    standin.inject("insufficient_quota", times=5)
    result = driver.execute(request, raise_on_error=False)

    assert not result.success
    assert standin.count("/embeddings") == 1  # no retry storm, not even the run's retry policy
    assert [(r.status, r.error_type) for r in ledger(engine)] == [("error", "insufficient_quota")]
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "insufficient_quota" in failure.event_specific_data.error.message
    # Nothing was consumed: the queued changes are still there for when the quota is back.
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM content_changes")).scalar() == 3


def test_bad_key_is_fatal_and_never_leaks(engine, instance, standin, caplog):
    driver, request = _sync_one(engine, instance)
    standin.inject("auth", times=5)
    result = driver.execute(request, raise_on_error=False)

    assert not result.success
    assert standin.count("/embeddings") == 1
    logs = " ".join(str(e) for e in result.all_events) + caplog.text
    with engine.connect() as conn:
        stored = " ".join(str(r) for r in conn.execute(sa.text("SELECT * FROM usage_ledger")).all())
    assert "invalid_api_key" in logs and "[redacted]" in logs  # the server quoted the key back
    assert TEST_API_KEY not in logs and TEST_API_KEY not in stored


def test_transient_errors_past_the_limit_become_row_failures_with_backoff(
    engine, instance, standin, monkeypatch
):
    from pipeline.settings import get_settings

    # A backoff longer than the rest of the run takes on a slow machine (the tests' default is 0.5 s).
    monkeypatch.setenv("EMBEDDING_RETRY_BASE_SECONDS", "30")
    get_settings.cache_clear()
    driver, request = _sync_one(engine, instance)
    standin.inject("server_error", times=3)  # OPENAI_MAX_ATTEMPTS=3 in the tests
    try:
        result = driver.execute(request)
    finally:
        get_settings.cache_clear()

    assert result.success  # the run finishes; the rows wait for their retry
    with engine.connect() as conn:
        failures = conn.execute(
            sa.text("SELECT attempts, error_type, next_retry_at > now() FROM embedding_failures")
        ).all()
    assert failures == [(1, "http_500", True)] * 3
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not checks["vectors_current"].passed
    assert checks["vectors_current"].severity.value == "WARN"  # known failures, not silent drift


def test_answers_paid_for_before_a_fatal_error_are_kept(engine, instance, standin, monkeypatch):
    """Six requests in flight, one answered insufficient_quota: the five answered ones are stored whatever
    order the requests were sent and answered in, and after the fix the re-run pays only for the row
    still missing."""
    from pipeline.settings import get_settings

    monkeypatch.setenv("EMBEDDING_MAX_INPUTS", "1")
    monkeypatch.setenv("OPENAI_MAX_CONCURRENCY", "6")
    get_settings.cache_clear()
    try:
        add_business(engine, "paid", menu=6, policies=0, faqs=0)
        driver = SensorDriver(instance)
        (request,) = driver.tick().run_requests
        # The second request to arrive fails at once; the others, in flight meanwhile, answer later.
        standin.inject("latency", times=1, seconds=0.5)
        standin.inject("insufficient_quota", times=1)
        standin.inject("latency", times=4, seconds=0.5)
        failed = driver.execute(request, raise_on_error=False)
        assert not failed.success
        assert len(vectors(engine, "menu_item")) == 5
        assert standin.count("/embeddings") == 6

        rerun = driver.execute(request)
    finally:
        get_settings.cache_clear()
    assert rerun.success
    assert len(vectors(engine, "menu_item")) == 6
    assert standin.count("/embeddings") == 7  # one more request, for the one row


def test_half_answered_before_a_fatal_error_in_a_split_request_is_kept(
    engine, instance, standin, monkeypatch
):
    """A request is rejected for one row and split in two; the first half is answered, the second gets
    insufficient_quota: the first half's vector is stored before the run fails."""
    from pipeline.settings import get_settings

    monkeypatch.setenv("EMBEDDING_MAX_INPUTS", "2")
    get_settings.cache_clear()
    try:
        b = add_business(engine, "split", menu=2, policies=0, faqs=0)
        bad = poison_menu_item(engine, b, last=True)
        driver = SensorDriver(instance)
        (request,) = driver.tick().run_requests
        standin.poison("POISON")
        standin.inject("latency", times=2, seconds=0)  # the pair (rejected), then its first half
        standin.inject("insufficient_quota", times=1)  # the second half
        result = driver.execute(request, raise_on_error=False)
    finally:
        get_settings.cache_clear()
    assert not result.success
    assert standin.count("/embeddings") == 3
    stored = vectors(engine, "menu_item")
    assert len(stored) == 1 and ("menu_item", bad) not in stored
