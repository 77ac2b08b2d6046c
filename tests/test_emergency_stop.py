"""The emergency stop halts every provider call within seconds, refuses launches, and is audited."""

from __future__ import annotations

import threading
import time

import dagster as dg
from click.testing import CliRunner

from pipeline.cli.main import cli
from pipeline.definitions import defs
from pipeline.resources.database import DatabaseResource
from pipeline.sensors.emergency_stop_sensor import emergency_stop_sensor
from pipeline.tags import WORKLOAD_TAG
from tests.column_batch_helpers import menu_without_descriptions, op_state, queue_new, run_operation, tick
from tests.helpers import SensorDriver, add_business, ledger


def _stop(on: bool, reason: str = "test") -> str:
    result = CliRunner().invoke(
        cli, ["emergency-stop", "on" if on else "off", "--reason", reason, "--by", "ops"]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_stop_refuses_embedding_calls_and_sensors_until_lifted(engine, instance, standin):
    add_business(engine, "halted", menu=2, policies=0, faqs=0)
    driver = SensorDriver(instance)
    request = driver.tick().run_requests[0]
    _stop(True, "runaway spend")

    assert isinstance(driver.tick(), dg.SkipReason)
    result = driver.execute(request, raise_on_error=False)
    assert not result.success and standin.count("/embeddings") == 0 and ledger(engine) == []
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "emergency_stop" in failure.event_specific_data.error.message

    _stop(False, "fixed")
    assert driver.execute(request).success and standin.count("/embeddings") == 1
    status = CliRunner().invoke(cli, ["emergency-stop", "status"]).output
    assert "Emergency stop is off" in status
    assert "on  ops: runaway spend" in status and "off ops: fixed" in status


def test_stop_pauses_a_running_operation_within_one_request(engine, instance, standin):
    menu_without_descriptions(engine, 20)
    op_id = queue_new(engine, batch_size=4, rows_per_request=2)
    standin.latency = 0.3

    def press_the_button() -> None:
        while standin.count("/chat/completions") < 2:
            time.sleep(0.05)
        _stop(True)

    presser = threading.Thread(target=press_the_button)
    presser.start()
    run_operation(instance, op_id)
    presser.join()
    standin.latency = 0
    calls_at_stop = standin.count("/chat/completions")
    assert calls_at_stop <= 3  # the one in flight when the button was pressed, at most
    state, reason = op_state(engine, op_id)
    assert state == "paused" and "emergency stop" in reason
    assert isinstance(tick(instance), dg.SkipReason)  # and nothing new is launched


def test_stop_sensor_cancels_provider_runs_not_yet_running(engine, instance):
    job = defs.resolve_job_def("create_column_batch_operation_job")
    config = {"ops": {"create_column_batch_operation": {"config": {"requested_by": "x"}}}}

    def queued_run(workload: str) -> dg.DagsterRun:
        return instance.create_run_for_job(
            job, run_config=config, tags={WORKLOAD_TAG: workload}, status=dg.DagsterRunStatus.NOT_STARTED
        )

    queued, other = queued_run("column_batch"), queued_run("reports")
    with dg.build_sensor_context(instance=instance, resources={"database": DatabaseResource()}) as ctx:
        emergency_stop_sensor(ctx)
        assert (
            instance.get_run_by_id(queued.run_id).status == dg.DagsterRunStatus.NOT_STARTED
        )  # switch is off
        _stop(True)
        emergency_stop_sensor(ctx)
    assert instance.get_run_by_id(queued.run_id).status == dg.DagsterRunStatus.CANCELED
    assert instance.get_run_by_id(other.run_id).status == dg.DagsterRunStatus.NOT_STARTED
