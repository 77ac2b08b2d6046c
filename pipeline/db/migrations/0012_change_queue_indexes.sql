-- One index fewer on every captured write: the sensor's (txid, seq) cursor index becomes the primary
-- key, and consumers delete by (content_type, business_id, seq) through the partition index.
ALTER TABLE content_changes DROP CONSTRAINT IF EXISTS content_changes_pkey;
DROP INDEX IF EXISTS content_changes_cursor_idx;
ALTER TABLE content_changes ADD PRIMARY KEY (txid, seq);
