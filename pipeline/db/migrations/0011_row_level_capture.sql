-- Single-row writes are the app's common case: row-level triggers cost less for them than statement
-- triggers with transition tables, and an UPDATE whose WHEN clause is false (price, availability,
-- timestamps) never even enters PL/pgSQL. TRUNCATE keeps its statement trigger from 0002.
CREATE OR REPLACE FUNCTION capture_row_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO content_changes (content_type, content_id, business_id, operation)
        VALUES (TG_ARGV[0], NEW.id, NEW.business_id, 'I');
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO content_changes (content_type, content_id, business_id, operation)
        VALUES (TG_ARGV[0], OLD.id, OLD.business_id, 'D');
    ELSE
        -- The trigger's WHEN clause has established that the embedded text or the business changed.
        INSERT INTO content_changes (content_type, content_id, business_id, operation)
        VALUES (TG_ARGV[0], NEW.id, NEW.business_id, 'U');
        IF NEW.business_id <> OLD.business_id THEN  -- moved: work for the old tenant too
            INSERT INTO content_changes (content_type, content_id, business_id, operation)
            VALUES (TG_ARGV[0], OLD.id, OLD.business_id, 'D');
        END IF;
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('menu_items', 'menu_item'), ('policies', 'policy'), ('faqs', 'faq'))
             AS v(tbl, ctype)
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS %1$s_capture_insert ON %1$I', t.tbl);
        EXECUTE format('DROP TRIGGER IF EXISTS %1$s_capture_update ON %1$I', t.tbl);
        EXECUTE format('DROP TRIGGER IF EXISTS %1$s_capture_delete ON %1$I', t.tbl);
        EXECUTE format('CREATE TRIGGER %1$s_capture_insert AFTER INSERT ON %1$I
                        FOR EACH ROW EXECUTE FUNCTION capture_row_change(%2$L)', t.tbl, t.ctype);
        EXECUTE format('CREATE TRIGGER %1$s_capture_update AFTER UPDATE ON %1$I FOR EACH ROW
                        WHEN (embedding_text(OLD) IS DISTINCT FROM embedding_text(NEW)
                              OR OLD.business_id IS DISTINCT FROM NEW.business_id)
                        EXECUTE FUNCTION capture_row_change(%2$L)', t.tbl, t.ctype);
        EXECUTE format('CREATE TRIGGER %1$s_capture_delete AFTER DELETE ON %1$I
                        FOR EACH ROW EXECUTE FUNCTION capture_row_change(%2$L)', t.tbl, t.ctype);
    END LOOP;
END $$;
