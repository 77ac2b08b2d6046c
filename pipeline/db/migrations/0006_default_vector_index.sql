-- HNSW (cosine) index for the default width, text-embedding-3-small's 1536 dimensions. Other widths
-- get theirs from pipeline.db.vectors.ensure_vector_index when first configured.
CREATE INDEX IF NOT EXISTS content_embeddings_hnsw_1536 ON content_embeddings
    USING hnsw ((embedding::vector(1536)) vector_cosine_ops) WHERE dimensions = 1536;
