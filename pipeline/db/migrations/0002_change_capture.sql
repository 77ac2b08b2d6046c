-- Transactional change capture: statement-level triggers with transition tables write one queue row
-- per changed row in the same transaction as the write, whoever the writer is (app, psql, COPY).
-- An UPDATE is captured only when the embedded text (or the owning business) changed.
CREATE TABLE IF NOT EXISTS content_changes (
    seq           bigserial PRIMARY KEY,
    -- The writing transaction's id. The sensor reads only rows of transactions older than the
    -- oldest one still running, so a slow writer can never be skipped by the cursor.
    txid          xid8 NOT NULL DEFAULT pg_current_xact_id(),
    content_type  text NOT NULL,
    content_id    bigint NOT NULL,
    business_id   bigint NOT NULL,
    operation     char(1) NOT NULL CHECK (operation IN ('I', 'U', 'D', 'T')),
    changed_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS content_changes_cursor_idx ON content_changes (txid, seq);
CREATE INDEX IF NOT EXISTS content_changes_partition_idx ON content_changes (content_type, business_id);

CREATE OR REPLACE FUNCTION capture_content_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ctype text := TG_ARGV[0];
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE format(
            'INSERT INTO content_changes (content_type, content_id, business_id, operation)
             SELECT %L, n.id, n.business_id, ''I'' FROM new_rows n', ctype);
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE format(
            'INSERT INTO content_changes (content_type, content_id, business_id, operation)
             SELECT %L, o.id, o.business_id, ''D'' FROM old_rows o', ctype);
    ELSIF TG_OP = 'UPDATE' THEN
        -- A row moved to another business is work for both tenants.
        EXECUTE format(
            'INSERT INTO content_changes (content_type, content_id, business_id, operation)
             SELECT %1$L, n.id, n.business_id, ''U''
               FROM new_rows n JOIN old_rows o ON o.id = n.id
              WHERE embedding_text(n::%2$I) IS DISTINCT FROM embedding_text(o::%2$I)
                 OR n.business_id <> o.business_id
             UNION ALL
             SELECT %1$L, o.id, o.business_id, ''D''
               FROM new_rows n JOIN old_rows o ON o.id = n.id
              WHERE n.business_id <> o.business_id', ctype, TG_TABLE_NAME);
    ELSIF TG_OP = 'TRUNCATE' THEN
        -- TRUNCATE has no rows to read: flag every business that has vectors of this type.
        INSERT INTO content_changes (content_type, content_id, business_id, operation)
        SELECT DISTINCT ctype, 0, e.business_id, 'T' FROM content_embeddings e WHERE e.content_type = ctype;
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
        EXECUTE format('DROP TRIGGER IF EXISTS %1$s_capture_truncate ON %1$I', t.tbl);
        EXECUTE format('CREATE TRIGGER %1$s_capture_insert AFTER INSERT ON %1$I
                        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                        EXECUTE FUNCTION capture_content_change(%2$L)', t.tbl, t.ctype);
        EXECUTE format('CREATE TRIGGER %1$s_capture_update AFTER UPDATE ON %1$I
                        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
                        EXECUTE FUNCTION capture_content_change(%2$L)', t.tbl, t.ctype);
        EXECUTE format('CREATE TRIGGER %1$s_capture_delete AFTER DELETE ON %1$I
                        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
                        EXECUTE FUNCTION capture_content_change(%2$L)', t.tbl, t.ctype);
        EXECUTE format('CREATE TRIGGER %1$s_capture_truncate AFTER TRUNCATE ON %1$I
                        FOR EACH STATEMENT EXECUTE FUNCTION capture_content_change(%2$L)', t.tbl, t.ctype);
    END LOOP;
END $$;
