"""Test helpers: seed content through SQL, tick the real sensor and execute its run requests."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg
import sqlalchemy as sa

from pipeline.assets.embeddings import embedding_assets
from pipeline.assets.partitions import business_partitions
from pipeline.checks.embedding_checks import embedding_checks
from pipeline.definitions import defs
from pipeline.resources.database import DatabaseResource
from pipeline.sensors.change_sensor import content_change_sensor


def add_business(engine: sa.Engine, slug: str, menu: int = 3, policies: int = 1, faqs: int = 1) -> int:
    with engine.begin() as conn:
        b = conn.execute(
            sa.text("INSERT INTO businesses (slug, name) VALUES (:s, :n) RETURNING id"),
            {"s": slug, "n": slug.title()},
        ).scalar_one()
        for i in range(menu):
            conn.execute(
                sa.text(
                    "INSERT INTO menu_items (business_id, name, category, description, price)"
                    " VALUES (:b, :n, 'Mains', :d, 10)"
                ),
                {"b": b, "n": f"{slug} dish {i}", "d": f"A {slug} dish number {i} with tomato and basil"},
            )
        for i in range(policies):
            conn.execute(
                sa.text("INSERT INTO policies (business_id, title, body) VALUES (:b, :t, :body)"),
                {"b": b, "t": f"{slug} policy {i}", "body": "Reservations are held for fifteen minutes."},
            )
        for i in range(faqs):
            conn.execute(
                sa.text("INSERT INTO faqs (business_id, question, answer) VALUES (:b, :q, :a)"),
                {
                    "b": b,
                    "q": f"Do you have parking at {slug} ({i})?",
                    "a": "Yes, free parking behind the building.",
                },
            )
    return b


@dataclass
class SensorDriver:
    """Runs the real sensor against a test instance and executes what it requests, in process."""

    instance: dg.DagsterInstance
    cursor: str | None = None
    executed: list[dg.RunRequest] = field(default_factory=list)

    def tick(self) -> dg.SensorResult | dg.SkipReason:
        # `with`: the context opens its own handle on the instance; leaving it unclosed leaves Dagster's
        # current-instance state pointing at a dead object for later materializations.
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={"database": DatabaseResource()},
            definitions=defs,
        ) as ctx:
            result = content_change_sensor(ctx)
        if isinstance(result, dg.SkipReason):
            return result
        for request in result.dynamic_partitions_requests or []:
            if isinstance(request, dg.AddDynamicPartitionsRequest):
                self.instance.add_dynamic_partitions(
                    request.partitions_def_name, list(request.partition_keys)
                )
            else:
                for key in request.partition_keys:
                    self.instance.delete_dynamic_partition(request.partitions_def_name, key)
        self.cursor = result.cursor
        return result

    def execute(self, request: dg.RunRequest, raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
        self.executed.append(request)
        return dg.materialize(
            [*embedding_assets, *embedding_checks],
            selection=request.asset_selection,
            partition_key=request.partition_key,
            tags=request.tags,
            instance=self.instance,
            resources=defs.resources,
            raise_on_error=raise_on_error,
        )

    def sync(self, max_ticks: int = 5) -> list[dg.ExecuteInProcessResult]:
        """Tick and execute until the sensor has nothing more to request."""
        results = []
        for _ in range(max_ticks):
            result = self.tick()
            requests = [] if isinstance(result, dg.SkipReason) else result.run_requests or []
            if not requests:
                return results
            results.extend(self.execute(r) for r in requests)
        raise AssertionError("the sensor kept requesting runs")


def poison_menu_item(engine: sa.Engine, business_id: int, marker: str = "POISON", last: bool = False) -> int:
    """Put `marker` into the description of the business's first (or last) menu item; its id."""
    pick = "max" if last else "min"
    with engine.begin() as conn:
        return conn.execute(
            sa.text(
                f"UPDATE menu_items SET description = :d WHERE id ="
                f" (SELECT {pick}(id) FROM menu_items WHERE business_id = :b) RETURNING id"
            ),
            {"d": f"{marker} here", "b": business_id},
        ).scalar_one()


def vectors(engine: sa.Engine, content_type: str | None = None) -> dict[tuple[str, int], list[tuple]]:
    """(content_type, content_id) -> [(chunk_index, content_hash, model, business_id)]."""
    query = (
        "SELECT content_type, content_id, chunk_index, content_hash, model, business_id"
        " FROM content_embeddings"
    )
    with engine.connect() as conn:
        rows = conn.execute(sa.text(query)).all()
    found: dict[tuple[str, int], list[tuple]] = {}
    for r in rows:
        if content_type is None or r[0] == content_type:
            found.setdefault((r[0], r[1]), []).append(tuple(r[2:]))
    return found


def ledger(engine: sa.Engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT * FROM usage_ledger ORDER BY id")).all()


def partitions(instance: dg.DagsterInstance) -> list[str]:
    return list(instance.get_dynamic_partitions(business_partitions.name))
