"""One read of a dynamic partitions definition for a burst of lookups that needs no fresher answer.

Dagster checks the key every time an asset attaches metadata to one of its partitions
(`context.add_asset_metadata(..., partition_key=...)`): two existence queries and a read of every key of
the definition, per call. A sync run does that once per business, so with 5,000 businesses a 100-business
run read half a million keys (7 ms a call). Inside `known_partitions()`, the pooled event log storage
(pipeline.instance.postgres_storage) answers those lookups from one read per definition, taken at first
use, per storage; adding or deleting partitions through that storage on the block's thread drops it
(another thread's or process's change is not seen until the block ends). Only the block's own thread
uses it (a ContextVar), and other storages ignore it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

_known: ContextVar[dict[tuple[int, str], tuple[tuple[str, ...], frozenset[str]]] | None] = ContextVar(
    "known_partitions", default=None
)


@contextmanager
def known_partitions() -> Iterator[None]:
    """Answer this thread's dynamic-partition lookups from one read per definition for the block: for
    checks of keys the run was created with, which cannot be missing."""
    token = _known.set({})
    try:
        yield
    finally:
        _known.reset(token)


def lookup(
    storage: object, name: str, read: Callable[[], Sequence[str]]
) -> tuple[tuple[str, ...], frozenset[str]] | None:
    """The keys of definition `name` in `storage` (in order, and as a set) if a `known_partitions` block
    is open, reading them with `read` the first time; None outside a block."""
    known = _known.get()
    if known is None:
        return None
    key = (id(storage), name)
    if key not in known:
        keys = tuple(read())
        known[key] = (keys, frozenset(keys))
    return known[key]


def forget(storage: object, name: str) -> None:
    """Partitions of `name` in `storage` changed: the next lookup in an open block reads them again."""
    known = _known.get()
    if known is not None:
        known.pop((id(storage), name), None)
