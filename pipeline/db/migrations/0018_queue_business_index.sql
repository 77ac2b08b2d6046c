-- The queue is read per partition (a handful of rows per business at a time), and every captured write
-- maintains this index: an int key costs less to insert than (text, bigint), and content_type filters
-- the few rows a business has queued.
DROP INDEX IF EXISTS content_changes_partition_idx;
CREATE INDEX content_changes_partition_idx ON content_changes (business_id);
