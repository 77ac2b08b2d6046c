"""How much of a partition a sync reads: pure rules."""

from __future__ import annotations

from pipeline.db.partition_snapshot import QueueState

# Past this many named rows one scan of the partition costs less than looking each row up.
MAX_TARGETED_ROWS = 2000

# Runs the change sensor requests name their work in the queue and in failure records; reconciliation,
# admin actions and materializations launched by a person diff the whole partition.
CHANGE_DRIVEN_TRIGGERS = frozenset({"change", "retry", "stuck"})


def rows_to_examine(queue: QueueState, change_driven: bool) -> list[int] | None:
    """The rows a sync must read, or None for the whole partition.

    A change-driven sync reads the rows its queued changes and failure records name: every write to a
    content table queues its row (triggers in the writer's transaction), so no other row can have
    changed since the last sync. The whole partition is read when the queue cannot name the rows (a
    TRUNCATE), when vectors of another model or width are stored (every row then needs a new vector),
    when so many rows are named that a scan is cheaper, and for every sync that is not change-driven:
    those repair whatever happened behind the queue's back (triggers disabled, vectors deleted by hand).
    """
    if not change_driven or queue.truncated or queue.foreign_vectors:
        return None
    rows = queue.changed_ids | set(queue.failures)
    return sorted(rows) if len(rows) <= MAX_TARGETED_ROWS else None
