-- The HNSW index of each vector width becomes 16 partial indexes, one per shard of businesses
-- (business_id % 16, pipeline.db.vectors.INDEX_SHARDS). A bulk load then builds each shard's graph as
-- soon as its businesses are loaded, while it loads the next ones, instead of one graph at the end.
-- Searches state their business's shard, which the planner matches to its index.
DO $$
DECLARE
    old record;
    dims int;
    shard int;
BEGIN
    FOR old IN
        SELECT relname FROM pg_class WHERE relkind = 'i' AND relname ~ '^content_embeddings_hnsw_[0-9]+$'
    LOOP
        dims := substring(old.relname FROM '([0-9]+)$')::int;
        -- The default 64MB holds a shard's graph only up to some 10k vectors (VECTOR_INDEX_BUILD_MEMORY).
        PERFORM set_config('maintenance_work_mem', '1GB', true);
        FOR shard IN 0..15 LOOP
            EXECUTE format(
                'CREATE INDEX IF NOT EXISTS %I ON content_embeddings USING hnsw ((embedding::%s(%s)) %s)'
                ' WHERE dimensions = %s AND business_id %% 16 = %s',
                old.relname || '_s' || shard,
                CASE WHEN dims <= 2000 THEN 'vector' ELSE 'halfvec' END,
                dims,
                CASE WHEN dims <= 2000 THEN 'vector_cosine_ops' ELSE 'halfvec_cosine_ops' END,
                dims,
                shard
            );
        END LOOP;
        EXECUTE format('DROP INDEX %I', old.relname);
    END LOOP;
END $$;
