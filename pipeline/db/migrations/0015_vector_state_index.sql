-- The sync's diff, the per-partition checks, reconciliation and the health report read the state of
-- stored vectors (content id, hash, model, width, chunk count), never the vectors themselves. Since 0014
-- keeps ~6 KB vectors inline, reading that state from the heap touched about one page per row; this
-- covering index answers it with an index-only scan (a 1,000-row business: 1,012 pages -> 23). It
-- replaces the (business_id, content_type, content_id) index, which is its prefix.
CREATE INDEX IF NOT EXISTS content_embeddings_state_idx
    ON content_embeddings (business_id, content_type, content_id, content_hash, model, dimensions)
    INCLUDE (chunk_count);
DROP INDEX IF EXISTS content_embeddings_partition_idx;
