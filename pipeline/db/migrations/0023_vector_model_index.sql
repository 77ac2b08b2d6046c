-- Which models a business's vectors use: every sync asks whether any are of another model or width, and
-- every check lists the models in use. Answered from the state index (0015), whose model column follows
-- content_id, that read every vector of the business, ~1,000 index entries and as many heap visits while
-- the table's visibility map is unset after a load: one of a change-driven sync's largest costs after
-- the HNSW inserts. On this index both are a few probes per business (pipeline.db.vector_models).
CREATE INDEX IF NOT EXISTS content_embeddings_model_idx
    ON content_embeddings (business_id, content_type, model, dimensions);
