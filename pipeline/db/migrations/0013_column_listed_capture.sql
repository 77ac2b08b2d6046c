-- Capture costs on the app's write path, so it must be as close to free as PostgreSQL allows:
-- * `AFTER UPDATE OF <columns>`: an UPDATE whose SET list names none of the columns embedding_text()
--   reads (price, availability, timestamps) skips the trigger before any expression is evaluated.
-- * The WHEN clause compares those columns directly instead of calling embedding_text() on OLD and
--   NEW (two regexp_replace calls per UPDATE). A whitespace-only edit is therefore queued; the sync
--   compares hashes and sends nothing for it, so it costs no tokens.
-- The column lists must name every column embedding_text() reads; tests/test_change_capture.py
-- updates each column of each content table and checks capture against embedding_text().
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
                 ('menu_items', 'menu_item', 'name, category, description, dietary_tags'),
                 ('policies', 'policy', 'title, category, body'),
                 ('faqs', 'faq', 'question, answer'))
             AS v(tbl, ctype, cols)
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %1$s_capture_update ON %1$I', t.tbl);
        EXECUTE format('CREATE TRIGGER %1$s_capture_update
                        AFTER UPDATE OF %3$s, business_id ON %1$I FOR EACH ROW
                        WHEN ((OLD.business_id, %4$s) IS DISTINCT FROM (NEW.business_id, %5$s))
                        EXECUTE FUNCTION capture_row_change(%2$L)',
                       t.tbl, t.ctype, t.cols,
                       regexp_replace(t.cols, '(\w+)', 'OLD.\1', 'g'),
                       regexp_replace(t.cols, '(\w+)', 'NEW.\1', 'g'));
    END LOOP;
END $$;

-- Since 0011 only TRUNCATE reaches this statement-level function.
CREATE OR REPLACE FUNCTION capture_content_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- TRUNCATE has no rows to read: flag every business that has vectors of this type.
    INSERT INTO content_changes (content_type, content_id, business_id, operation)
    SELECT DISTINCT TG_ARGV[0], 0, e.business_id, 'T' FROM content_embeddings e WHERE e.content_type = TG_ARGV[0];
    RETURN NULL;
END $$;
