-- Tenant isolation enforced by the database. Search runs as the role pipeline_app, which sees only
-- the vectors of the business named in the transaction setting app.business_id (unset: no rows).
-- RLS is enabled only on the pipeline's own table: enabling it on the app's tables would lock out
-- the app's roles that have no policy.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pipeline_app') THEN
        CREATE ROLE pipeline_app NOLOGIN;
    END IF;
END $$;

GRANT USAGE ON SCHEMA public TO pipeline_app;
GRANT SELECT ON content_embeddings TO pipeline_app;

CREATE OR REPLACE FUNCTION current_business_id() RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('app.business_id', true), '')::bigint $$;

ALTER TABLE content_embeddings ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON content_embeddings;
CREATE POLICY tenant_isolation ON content_embeddings FOR SELECT TO pipeline_app
    USING (business_id = current_business_id());
