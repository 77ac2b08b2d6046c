"""UI scale: how long the Dagster UI's asset page takes to load its partition data with N businesses
(dynamic partitions), under `dagster dev` as `scripts/start.sh` runs it.

N businesses are inserted; the running change sensor registers them as partitions (as in production).
Then the GraphQL query behind the asset page's partition view (partition keys, partition stats and
per-partition statuses of `menu_item_embeddings`) is sent to the webserver, and the asset graph query
behind the lineage view; each timed over several repetitions. Target: the issue asks that the page stays
usable; a load under 2 s is reported as met.

    .venv/bin/python -m benchmarks.ui_scale [--businesses 5000] [--repeats 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks import _common as c
from benchmarks.freshness import ROOT, dagster_dev
from pipeline.lib.process_group import free_port

ASSET_PAGE = """
query AssetPartitions($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      id
      partitionKeysByDimension { name partitionKeys }
      partitionStats { numMaterialized numMaterializing numFailed numPartitions }
      assetPartitionStatuses {
        ... on DefaultPartitionStatuses { materializedPartitions failedPartitions unmaterializedPartitions }
      }
    }
  }
}
"""
ASSET_GRAPH = "query { assetNodes { id assetKey { path } groupName isPartitioned } }"


def graphql(port: str, query: str, variables: dict[str, Any] | None = None) -> tuple[float, dict]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    if answer.get("errors"):
        raise RuntimeError(f"GraphQL errors: {answer['errors'][:2]}")
    return time.perf_counter() - started, answer


def wait_for(check: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if check():
                return time.monotonic() - started
        except OSError:
            pass  # the webserver is not listening yet
        time.sleep(1)
    raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from dagster import DagsterInstance

    home = Path(tempfile.mkdtemp(prefix="bench-dagster-home-"))
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    key = {"key": {"path": ["menu_item_embeddings"]}}
    try:
        with c.bench_database() as engine, c.dagster_storage(engine) as pg_url:
            c.add_businesses(engine, args.businesses, "ui")
            c.set_env(DAGSTER_PG_URL=pg_url)
            with dagster_dev(home, pg_url, port), DagsterInstance.from_config(str(home)) as instance:
                registered = wait_for(
                    lambda: len(instance.get_dynamic_partitions("businesses")) >= args.businesses,
                    args.timeout,
                    f"the sensor to register {args.businesses} partitions",
                )
                wait_for(lambda: graphql(port, ASSET_GRAPH), args.timeout, "the webserver")
                _, answer = graphql(port, ASSET_PAGE, key)
                node = answer["data"]["assetNodeOrError"]
                partitions = node["partitionStats"]["numPartitions"]
                page = [graphql(port, ASSET_PAGE, key)[0] for _ in range(args.repeats)]
                lineage = [graphql(port, ASSET_GRAPH)[0] for _ in range(args.repeats)]
    finally:
        shutil.rmtree(home, ignore_errors=True)
    figures = {
        "partitions_seen_by_the_ui": partitions,
        "seconds_until_sensor_registered_all": c.r(registered, 1),
        "asset_page_partitions_query_p50_s": c.r(c.median(page), 3),
        "asset_page_partitions_query_max_s": c.r(max(page), 3),
        "asset_graph_query_p50_s": c.r(c.median(lineage), 3),
    }
    return c.result(
        "ui_scale",
        {"businesses": args.businesses, "repeats": args.repeats},
        figures,
        {"note": "no reference: the figure is an absolute time, on the same machine as the others"},
        [
            c.check("partitions shown", partitions, "==", args.businesses),
            c.check(
                "asset page partition data, p50 seconds", figures["asset_page_partitions_query_p50_s"], "<", 2
            ),
        ],
        ["Times are of the GraphQL queries behind the page, not browser rendering."],
    )


if __name__ == "__main__":
    parser = c.parser(__doc__.split("\n\n")[0])
    parser.add_argument("--businesses", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=600)
    c.main("ui_scale", parser, bench)
