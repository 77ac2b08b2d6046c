CREATE EXTENSION IF NOT EXISTS vector;

-- One row per chunk of a content row. The vector column has no fixed width so that several models
-- can coexist during a model change; each width gets its own partial HNSW index (see indexes.py).
CREATE TABLE IF NOT EXISTS content_embeddings (
    id            bigserial PRIMARY KEY,
    business_id   bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    content_type  text NOT NULL CHECK (content_type IN ('menu_item', 'policy', 'faq')),
    content_id    bigint NOT NULL,
    chunk_index   integer NOT NULL CHECK (chunk_index >= 0),
    chunk_count   integer NOT NULL CHECK (chunk_count > chunk_index),
    content_hash  text NOT NULL,
    model         text NOT NULL,
    dimensions    integer NOT NULL CHECK (dimensions > 0),
    token_count   integer NOT NULL,
    chunk_text    text NOT NULL,           -- what was embedded; search and the chatbot read it from here
    embedding     vector NOT NULL CHECK (vector_dims(embedding) = dimensions),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (content_type, content_id, model, dimensions, content_hash, chunk_index)
);
CREATE INDEX IF NOT EXISTS content_embeddings_partition_idx
    ON content_embeddings (business_id, content_type, content_id);

-- Rows that could not be embedded. One bad row never blocks its batch: it waits here with
-- exponential backoff, and is retried early if its text changes.
CREATE TABLE IF NOT EXISTS embedding_failures (
    content_type     text NOT NULL,
    content_id       bigint NOT NULL,
    business_id      bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    content_hash     text NOT NULL,
    attempts         integer NOT NULL DEFAULT 1,
    error_type       text NOT NULL,
    last_error       text NOT NULL,
    first_failed_at  timestamptz NOT NULL DEFAULT now(),
    last_failed_at   timestamptz NOT NULL DEFAULT now(),
    next_retry_at    timestamptz,
    PRIMARY KEY (content_type, content_id)
);
CREATE INDEX IF NOT EXISTS embedding_failures_due_idx ON embedding_failures (next_retry_at);
