-- Keep vectors in the heap row instead of TOAST: a 1,536-dimension vector is ~6 KB, so the default
-- storage moved every one out of line, and an exact (tenant-filtered) search paid a TOAST index lookup
-- and four chunk reads per row. MAIN stores it inline whenever the row fits in a page and falls back to
-- TOAST only when it does not (wide vectors, long chunk text), so no write can fail because of it.
-- Rows written before this migration move inline when they are next rewritten.
ALTER TABLE content_embeddings ALTER COLUMN embedding SET STORAGE MAIN;
ALTER TABLE content_embeddings_shadow ALTER COLUMN embedding SET STORAGE MAIN;
