-- A change-driven sync examines only the rows its queued changes and failure records name, not the whole
-- partition; that run's checks must then verify exactly those rows, in another step and possibly another
-- process. A sync leaves one row per (run, partition) saying which rows it examined (NULL: all of them);
-- the checks take it. Rows whose checks never ran are pruned by `pipeline admin cleanup`.
CREATE TABLE IF NOT EXISTS synced_rows (
    run_id text NOT NULL,
    content_type text NOT NULL,
    business_id bigint NOT NULL,
    content_ids bigint[],
    synced_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, content_type, business_id)
);
