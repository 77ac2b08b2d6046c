-- Capture is on the app's write path. A profile of captured single-row writes (perf on the backend)
-- showed most of the triggers' cost was PostgreSQL reading expression trees back from their stored text:
-- * a trigger's WHEN clause is parsed (stringToNode) and compiled again for every statement; the
--   five-column comparison of 0013 was the largest single cost of a captured UPDATE;
-- * a CHECK constraint is parsed again for every INSERT into the queue, and each capture is one.
-- So the column comparison moves into a PL/pgSQL function per table, whose plans are cached for the
-- session; the queue's operation becomes an enum (a constant is checked once, when the INSERT is
-- planned); and the queue's sequence hands each session a block of numbers instead of locking and
-- logging its page on every INSERT. seq only has to be unique and rising within a transaction: the
-- sensor's cursor orders by txid first, and consumers delete the exact seqs they read.
-- `AFTER UPDATE OF <columns>` still skips an UPDATE that names none of them before any function runs.
-- The column lists must name every column embedding_text() reads; tests/test_change_capture.py
-- updates each column of each content table and checks what is captured.
DO $$ BEGIN
    CREATE TYPE content_change_operation AS ENUM ('I', 'U', 'D', 'T');
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
ALTER TABLE content_changes DROP CONSTRAINT IF EXISTS content_changes_operation_check;
ALTER TABLE content_changes
    ALTER COLUMN operation TYPE content_change_operation USING operation::text::content_change_operation;

ALTER SEQUENCE content_changes_seq_seq CACHE 1000;

CREATE OR REPLACE FUNCTION capture_content_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- TRUNCATE has no rows to read: flag every business that has vectors of this type.
    INSERT INTO content_changes (content_type, content_id, business_id, operation)
    SELECT DISTINCT TG_ARGV[0], 0, e.business_id, 'T'::content_change_operation
    FROM content_embeddings e WHERE e.content_type = TG_ARGV[0];
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION capture_row_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO content_changes (content_type, content_id, business_id, operation)
    VALUES (TG_ARGV[0], NEW.id, NEW.business_id, 'I');
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION capture_row_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO content_changes (content_type, content_id, business_id, operation)
    VALUES (TG_ARGV[0], OLD.id, OLD.business_id, 'D');
    RETURN NULL;
END $$;

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
        EXECUTE format($f$
            CREATE OR REPLACE FUNCTION capture_%1$s_update() RETURNS trigger
            LANGUAGE plpgsql AS $body$
            BEGIN
                IF (OLD.business_id, %2$s) IS DISTINCT FROM (NEW.business_id, %3$s) THEN
                    INSERT INTO content_changes (content_type, content_id, business_id, operation)
                    VALUES (%1$L, NEW.id, NEW.business_id, 'U');
                    IF NEW.business_id <> OLD.business_id THEN  -- moved: work for the old tenant too
                        INSERT INTO content_changes (content_type, content_id, business_id, operation)
                        VALUES (%1$L, OLD.id, OLD.business_id, 'D');
                    END IF;
                END IF;
                RETURN NULL;
            END $body$ $f$,
            t.ctype,
            regexp_replace(t.cols, '(\w+)', 'OLD.\1', 'g'),
            regexp_replace(t.cols, '(\w+)', 'NEW.\1', 'g'));
        EXECUTE format('DROP TRIGGER IF EXISTS %1$s_capture_insert ON %1$I', t.tbl);
        EXECUTE format('DROP TRIGGER IF EXISTS %1$s_capture_update ON %1$I', t.tbl);
        EXECUTE format('DROP TRIGGER IF EXISTS %1$s_capture_delete ON %1$I', t.tbl);
        EXECUTE format('CREATE TRIGGER %1$s_capture_insert AFTER INSERT ON %1$I
                        FOR EACH ROW EXECUTE FUNCTION capture_row_insert(%2$L)', t.tbl, t.ctype);
        EXECUTE format('CREATE TRIGGER %1$s_capture_update
                        AFTER UPDATE OF %3$s, business_id ON %1$I
                        FOR EACH ROW EXECUTE FUNCTION capture_%2$s_update()', t.tbl, t.ctype, t.cols);
        EXECUTE format('CREATE TRIGGER %1$s_capture_delete AFTER DELETE ON %1$I
                        FOR EACH ROW EXECUTE FUNCTION capture_row_delete(%2$L)', t.tbl, t.ctype);
    END LOOP;
END $$;
DROP FUNCTION IF EXISTS capture_row_change();
