"""Per-business embedding assets: one per content type, partitioned by business."""

from concurrent.futures import ThreadPoolExecutor

import dagster as dg

from pipeline.assets.partitions import business_id_of, business_partitions
from pipeline.content_types import CONTENT_TYPES, ContentType
from pipeline.db.engine import PARTITIONS_PER_REQUEST_SLOT
from pipeline.instance.partition_lookups import known_partitions
from pipeline.llm.errors import ProviderFatalError
from pipeline.resources.database import DatabaseResource
from pipeline.resources.openai import OpenAIResource
from pipeline.settings import get_settings
from pipeline.sync.partition_sync import PartitionSyncer
from pipeline.sync.scope import CHANGE_DRIVEN_TRIGGERS
from pipeline.sync.stats import SyncStats
from pipeline.sync.vector_index import load_position, vector_index_for_load
from pipeline.tags import TRIGGER_TAG

# Transient whole-step failures (a database restart, a network blip) are retried by Dagster;
# provider errors that retrying cannot fix raise a Failure that forbids retries.
SYNC_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def build_embeddings_asset(ct: ContentType) -> dg.AssetsDefinition:
    @dg.asset(
        name=ct.embeddings_asset,
        deps=[ct.table],
        partitions_def=business_partitions,
        # A bulk change is one run over a range of businesses, not hundreds of one-business runs.
        backfill_policy=dg.BackfillPolicy.single_run(),
        retry_policy=SYNC_RETRY_POLICY,
        pool="openai",
        group_name="embeddings",
        kinds={"openai", "pgvector"},
        description=f"OpenAI embeddings of each business's {ct.table}, stored in `content_embeddings` "
        "(pgvector, HNSW). Embeds only rows whose text, model or dimensions changed; removes vectors "
        "of deleted rows. Runs the change sensor requests read only the rows their queued changes name; "
        "other runs (reconciliation, the UI) diff the whole partition.",
    )
    def _embeddings(
        context: dg.AssetExecutionContext, database: DatabaseResource, openai: OpenAIResource
    ) -> dg.MaterializeResult:
        settings = get_settings()
        service = openai.embedding_service()
        totals = SyncStats()
        # Shard by shard, so that each shard's index is built as soon as its businesses are loaded.
        keys = sorted(context.partition_keys, key=lambda k: load_position(business_id_of(k)))
        # A ranged run syncs several businesses side by side, so small tenants (one request each) still
        # fill the shared concurrency slots; the limiter keeps the total within the account's limits.
        # Twice as many businesses as slots: while one writes its answer (slow into a live HNSW index),
        # another's request is in flight.
        workers = min(len(keys), PARTITIONS_PER_REQUEST_SLOT * settings.openai_max_concurrency)
        with (
            vector_index_for_load(
                database.engine, service.dimensions, settings, map(business_id_of, keys)
            ) as index,
            ThreadPoolExecutor(settings.openai_max_concurrency, thread_name_prefix="embed") as requests,
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="partition") as pool,
            # Dagster checks every key it is given metadata for against the instance: one read for all.
            known_partitions(),
        ):
            syncer = PartitionSyncer(
                database.engine,
                service,
                settings,
                requests,
                run_id=context.run.run_id,
                # A re-execution (from the UI, or a run retry) copies the trigger tag, but its queue rows
                # may be consumed already: it diffs whole partitions.
                change_driven=context.run.tags.get(TRIGGER_TAG) in CHANGE_DRIVEN_TRIGGERS
                and context.run.parent_run_id is None,
            )

            def sync_business(business_id: int) -> SyncStats:
                try:
                    return syncer.sync(ct, business_id)
                finally:
                    index.business_done(business_id)

            futures = {key: pool.submit(sync_business, business_id_of(key)) for key in keys}
            for key, future in futures.items():
                try:
                    stats = future.result()
                except ProviderFatalError as exc:
                    for pending in futures.values():
                        pending.cancel()
                    raise dg.Failure(
                        description=f"{exc.error_type}: {exc}. Fix the account or key, then re-run.",
                        allow_retries=False,
                    ) from None
                # Each business's materialization carries its own figures, not the run's totals.
                context.add_asset_metadata(stats.as_metadata(), partition_key=key)
                if stats.failed:
                    context.log.warning(
                        f"business {key}: {stats.failed} row(s) failed; see embedding_failures"
                    )
                totals.merge(stats)
        context.log.info(f"{len(keys)} business(es): {totals.as_metadata()}")
        if service.provider != "openai":
            context.log.warning("Vectors came from the offline OpenAI stand-in (no OPENAI_API_KEY set).")
        return dg.MaterializeResult(
            metadata={
                "businesses_in_run": len(keys),
                "provider": service.provider,
                "model": service.model,
                "dimensions": service.dimensions,
                "vector_index": index.outcome.describe(),
            }
        )

    return _embeddings


embedding_assets = [build_embeddings_asset(ct) for ct in CONTENT_TYPES]
