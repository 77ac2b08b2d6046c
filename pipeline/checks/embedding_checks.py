"""Per-business health checks on the embedding assets, evaluated after every sync.

A run may cover a range of businesses (bulk changes), so each check records one evaluation per
business partition in the run rather than a single result for the whole step. A change-driven sync
examines only the rows its queued changes name; its checks verify exactly those rows (and the models
of the whole partition), so their cost follows the change. Every other run, and the reconciliation
schedule's hash compare every 30 minutes, verifies whole partitions.
"""

from collections.abc import Iterator

import dagster as dg

from pipeline.assets.partitions import business_id_of, business_partitions
from pipeline.content_types import CONTENT_TYPES, ContentType
from pipeline.db import synced_rows
from pipeline.db.coverage import Coverage, partitions_coverage
from pipeline.instance.check_evaluation_batch import batched_check_evaluations
from pipeline.resources.database import DatabaseResource
from pipeline.resources.openai import OpenAIResource

CHECK_NAMES = ("vectors_current", "no_orphan_vectors", "single_model")


def evaluate(
    cov: Coverage, expected_model: str, changed_only: bool = False
) -> dict[str, tuple[bool, dg.AssetCheckSeverity, str]]:
    """Pure verdicts for one partition: name -> (passed, severity, description)."""
    stale_not_failed = cov.stale - cov.failed
    scope = "Among the rows this run's changes named: " if changed_only else ""
    return {
        "vectors_current": (
            cov.stale == 0,
            dg.AssetCheckSeverity.ERROR if stale_not_failed else dg.AssetCheckSeverity.WARN,
            f"{scope}{cov.current} of {cov.rows - cov.empty} rows with text have a vector for their current "
            f"text and model; {cov.failed} failing, {stale_not_failed} waiting.",
        ),
        "no_orphan_vectors": (
            cov.orphans == 0,
            dg.AssetCheckSeverity.ERROR,
            f"{scope}{cov.orphans} stored vector chunks have no live row with text.",
        ),
        "single_model": (
            len(cov.models) <= 1 and all(m == expected_model for m in cov.models),
            dg.AssetCheckSeverity.ERROR,
            f"Models in use: {', '.join(cov.models) or 'none'}; expected {expected_model}.",
        ),
    }


def _evaluations(
    ct: ContentType, key: str, cov: Coverage, expected_model: str, changed_only: bool
) -> Iterator[dg.AssetCheckEvaluation]:
    metadata = {
        "scope": "changed rows" if changed_only else "whole partition",
        "rows": cov.rows,
        "current": cov.current,
        "stale": cov.stale,
        "failed": cov.failed,
        "orphans": cov.orphans,
    }
    for name, (passed, severity, description) in evaluate(cov, expected_model, changed_only).items():
        yield dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(ct.embeddings_asset),
            check_name=name,
            passed=passed,
            severity=severity,
            description=description,
            partition=key,
            metadata=metadata,
        )


def build_embedding_checks(ct: ContentType) -> dg.AssetChecksDefinition:
    specs = [
        dg.AssetCheckSpec(name, asset=ct.embeddings_asset, partitions_def=business_partitions)
        for name in CHECK_NAMES
    ]

    @dg.multi_asset_check(specs=specs, name=f"{ct.embeddings_asset}_health", can_subset=True)
    def _checks(context: dg.AssetCheckExecutionContext, database: DatabaseResource, openai: OpenAIResource):
        model, dims = openai.embedding_target()
        expected = f"{model}/{dims}"
        keys = context.partition_keys
        businesses = [business_id_of(k) for k in keys]
        with database.engine.begin() as conn:
            named = synced_rows.take(conn, context.run.run_id, ct.name, businesses)
            whole = [b for b in businesses if b not in named]
            found = partitions_coverage(conn, model, dims, ct.name, whole) if whole else {}
            if named:
                rows = sorted({r for ids in named.values() for r in ids})
                found.update(partitions_coverage(conn, model, dims, ct.name, list(named), rows))
        # Three evaluations per business: stored together when the loop ends, not one by one.
        with batched_check_evaluations():
            for key in keys:
                cov = found[business_id_of(key)]
                for evaluation in _evaluations(ct, key, cov, expected, changed_only=cov.business_id in named):
                    context.op_execution_context.log_event(evaluation)
        yield from ()

    return _checks


embedding_checks = [build_embedding_checks(ct) for ct in CONTENT_TYPES]
