-- Staging area for regenerating a business's vectors: built here, then swapped in with one
-- transaction so search never sees a half-regenerated (or mixed-model) business.
CREATE TABLE IF NOT EXISTS content_embeddings_shadow (
    LIKE content_embeddings INCLUDING DEFAULTS,
    regeneration_id bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS content_embeddings_shadow_regen_idx ON content_embeddings_shadow (regeneration_id);
