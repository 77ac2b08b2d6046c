-- The SaaS app's tenant content. In production the app owns these tables; the pipeline only
-- reads them and installs change-capture triggers (0002).
CREATE TABLE IF NOT EXISTS businesses (
    id          bigserial PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]*$'),
    name        text NOT NULL,
    cuisine     text,
    city        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS menu_items (
    id            bigserial PRIMARY KEY,
    business_id   bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    name          text NOT NULL,
    category      text,
    description   text,
    price         numeric(10, 2) CHECK (price >= 0),
    dietary_tags  text[] NOT NULL DEFAULT '{}',
    is_available  boolean NOT NULL DEFAULT true,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS menu_items_business_idx ON menu_items (business_id);

CREATE TABLE IF NOT EXISTS policies (
    id           bigserial PRIMARY KEY,
    business_id  bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    title        text NOT NULL,
    category     text,
    body         text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS policies_business_idx ON policies (business_id);

CREATE TABLE IF NOT EXISTS faqs (
    id           bigserial PRIMARY KEY,
    business_id  bigint NOT NULL REFERENCES businesses (id) ON DELETE CASCADE,
    question     text NOT NULL,
    answer       text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS faqs_business_idx ON faqs (business_id);

-- What gets embedded for each content type. One definition, used by the change-capture triggers
-- (did the embedded text change?), the sync assets (what to send) and reconciliation (hash compare).
-- Price, availability and timestamps are deliberately left out: changing them costs no tokens.
CREATE OR REPLACE FUNCTION embedding_text(m menu_items) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT btrim(regexp_replace(
        coalesce(m.name, '')
        || coalesce(' (' || nullif(btrim(m.category), '') || ')', '')
        || coalesce(': ' || nullif(btrim(m.description), ''), '')
        || CASE WHEN cardinality(m.dietary_tags) > 0
                THEN ' [' || array_to_string(m.dietary_tags, ', ') || ']' ELSE '' END,
        '\s+', ' ', 'g'))
$$;

CREATE OR REPLACE FUNCTION embedding_text(p policies) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT btrim(regexp_replace(
        coalesce(p.title, '')
        || coalesce(' (' || nullif(btrim(p.category), '') || ')', '')
        || coalesce(': ' || nullif(btrim(p.body), ''), ''),
        '\s+', ' ', 'g'))
$$;

CREATE OR REPLACE FUNCTION embedding_text(f faqs) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT btrim(regexp_replace(
        'Q: ' || coalesce(f.question, '') || coalesce(' A: ' || nullif(btrim(f.answer), ''), ''),
        '\s+', ' ', 'g'))
$$;

CREATE OR REPLACE VIEW content_documents AS
    SELECT 'menu_item'::text AS content_type, m.id AS content_id, m.business_id, embedding_text(m) AS body
    FROM menu_items m
    UNION ALL
    SELECT 'policy', p.id, p.business_id, embedding_text(p) FROM policies p
    UNION ALL
    SELECT 'faq', f.id, f.business_id, embedding_text(f) FROM faqs f;
