"""Delivers new alerts: logs each one and posts it to Slack when SLACK_WEBHOOK_URL is set."""

import json
import urllib.parse
import urllib.request

import dagster as dg

from pipeline.db import alerts
from pipeline.resources.database import DatabaseResource
from pipeline.settings import get_settings

_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


def post_to_slack(webhook_url: str, text: str, timeout: float = 5.0) -> None:
    parsed = urllib.parse.urlsplit(webhook_url)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        # Never the value itself: the URL is the credential.
        raise ValueError("SLACK_WEBHOOK_URL is not an https:// URL")
    request = urllib.request.Request(
        webhook_url, data=json.dumps({"text": text}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


@dg.sensor(
    name="alert_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Reports each new alert once: run log, and Slack when SLACK_WEBHOOK_URL is set.",
)
def alert_sensor(context: dg.SensorEvaluationContext, database: DatabaseResource) -> dg.SkipReason:
    webhook = get_settings().slack_webhook_url
    with database.engine.begin() as conn:
        pending = alerts.unnotified(conn)
        delivered = []
        for alert in pending:
            text = f"{_EMOJI.get(alert['severity'], '')} [{alert['kind']}] {alert['message']}".strip()
            context.log.warning(text) if alert["severity"] != "info" else context.log.info(text)
            if webhook is not None:
                try:
                    post_to_slack(webhook.get_secret_value(), text)
                except ValueError:  # a malformed URL; urllib's message would quote it, so none is logged
                    context.log.error(
                        "Slack delivery failed: SLACK_WEBHOOK_URL is not a valid https:// URL (its value is"
                        " not shown). Alerts stay pending and are delivered once it is fixed."
                    )
                    break
                except OSError as exc:  # keep it pending; the next tick retries
                    context.log.error(f"Slack delivery failed ({type(exc).__name__}); will retry.")
                    continue
            delivered.append(alert["id"])
        alerts.mark_notified(conn, delivered)
    return dg.SkipReason(f"Delivered {len(delivered)} of {len(pending)} new alerts.")
