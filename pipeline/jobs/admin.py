"""Admin actions as Dagster jobs with launchpad config (the CLI calls the same functions)."""

import dagster as dg

from pipeline.admin import actions
from pipeline.resources.database import DatabaseResource
from pipeline.resources.openai import OpenAIResource
from pipeline.tags import WORKLOAD_TAG

_ADMIN_TAGS = {WORKLOAD_TAG: "admin"}


class ActorConfig(dg.Config):
    actor: str  # who is doing this; recorded in admin_actions


class RetryFailedConfig(ActorConfig):
    business_id: int | None = None  # None: every business


class RegenerateConfig(ActorConfig):
    business_id: int
    model: str | None = None  # default: EMBEDDING_MODEL
    dimensions: int | None = None  # default: EMBEDDING_DIMENSIONS or the model's


class CleanupConfig(ActorConfig):
    days: int = 90  # keep everything newer than this


def _log(context: dg.OpExecutionContext, result: dict) -> None:
    context.log.info(f"{context.op.name}: {result}")
    context.add_output_metadata({k: v for k, v in result.items() if isinstance(v, int | float | str)})


@dg.op
def retry_failed_rows(
    context: dg.OpExecutionContext, config: RetryFailedConfig, database: DatabaseResource
) -> dict:
    result = actions.retry_failed(database.engine, config.actor, config.business_id)
    _log(context, result)
    return result


@dg.op
def regenerate_business(
    context: dg.OpExecutionContext,
    config: RegenerateConfig,
    database: DatabaseResource,
    openai: OpenAIResource,
) -> dict:
    target = OpenAIResource(
        embedding_model=config.model or openai.embedding_model,
        embedding_dimensions=config.dimensions or openai.embedding_dimensions,
    )
    result = actions.regenerate(database.engine, config.actor, config.business_id, target)
    _log(context, result)
    return result


@dg.op
def cleanup_old_data(
    context: dg.OpExecutionContext, config: CleanupConfig, database: DatabaseResource
) -> dict:
    result = actions.cleanup(database.engine, config.actor, config.days)
    _log(context, result)
    return result


@dg.op
def reconcile_all(
    context: dg.OpExecutionContext, config: ActorConfig, database: DatabaseResource, openai: OpenAIResource
) -> dict:
    result = actions.reconcile(database.engine, config.actor, openai)
    _log(context, result)
    return result


@dg.job(tags=_ADMIN_TAGS, description="Retry failed embedding rows now (all or one business).")
def retry_failed_job() -> None:
    retry_failed_rows()


@dg.job(
    tags=_ADMIN_TAGS,
    description="Regenerate a business's embeddings (optionally with another model) in a "
    "shadow set, then swap it in atomically.",
)
def regenerate_business_job() -> None:
    regenerate_business()


@dg.job(
    tags=_ADMIN_TAGS,
    description="Delete usage rows, alerts, finished operations and audit entries older "
    "than N days (default 90), and orphaned vectors.",
)
def cleanup_job() -> None:
    cleanup_old_data()


@dg.job(
    tags=_ADMIN_TAGS, description="Hash-compare every business and queue syncs for anything that drifted."
)
def reconcile_job() -> None:
    reconcile_all()


cleanup_schedule = dg.ScheduleDefinition(
    name="cleanup_schedule",
    cron_schedule="0 3 * * *",
    job=cleanup_job,
    run_config={"ops": {"cleanup_old_data": {"config": {"actor": "schedule", "days": 90}}}},
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Nightly cleanup with the default 90-day retention.",
)

admin_jobs = [retry_failed_job, regenerate_business_job, cleanup_job, reconcile_job]
