-- Versioned prices (USD per million tokens). A new price is a new row with a later effective_from;
-- ledger rows keep the version they were billed at.
CREATE TABLE IF NOT EXISTS model_prices (
    model                  text NOT NULL,
    version                text NOT NULL,
    effective_from         date NOT NULL,
    input_usd_per_mtok     numeric(12, 6) NOT NULL CHECK (input_usd_per_mtok >= 0),
    cached_usd_per_mtok    numeric(12, 6),
    output_usd_per_mtok    numeric(12, 6) NOT NULL DEFAULT 0 CHECK (output_usd_per_mtok >= 0),
    source                 text NOT NULL,
    PRIMARY KEY (model, effective_from)
);
INSERT INTO model_prices (model, version, effective_from, input_usd_per_mtok, cached_usd_per_mtok,
                          output_usd_per_mtok, source) VALUES
    ('text-embedding-3-small', '2024-01', '2024-01-25', 0.02, NULL, 0, 'openai.com/api/pricing'),
    ('text-embedding-3-large', '2024-01', '2024-01-25', 0.13, NULL, 0, 'openai.com/api/pricing'),
    ('text-embedding-ada-002', '2022-12', '2022-12-15', 0.10, NULL, 0, 'openai.com/api/pricing'),
    ('gpt-4o-mini',            '2024-07', '2024-07-18', 0.15, 0.075, 0.60, 'openai.com/api/pricing'),
    ('gpt-4o',                 '2024-10', '2024-10-01', 2.50, 1.25, 10.00, 'openai.com/api/pricing'),
    ('gpt-4.1-mini',           '2025-04', '2025-04-14', 0.40, 0.10, 1.60, 'openai.com/api/pricing')
ON CONFLICT DO NOTHING;

-- Every API call, success or failure, is one row.
CREATE TABLE IF NOT EXISTS usage_ledger (
    id              bigserial PRIMARY KEY,
    created_at      timestamptz NOT NULL DEFAULT now(),
    workload        text NOT NULL,            -- embedding_sync | column_batch | search
    business_id     bigint,
    content_type    text,
    operation_id    bigint,
    run_id          text,
    provider        text NOT NULL,            -- openai | offline-standin
    model           text NOT NULL,
    endpoint        text NOT NULL,            -- embeddings | chat.completions
    input_count     integer NOT NULL DEFAULT 0,
    input_tokens    integer NOT NULL DEFAULT 0,
    output_tokens   integer NOT NULL DEFAULT 0,
    cost_usd        numeric(14, 8) NOT NULL DEFAULT 0,
    price_version   text,
    latency_ms      integer NOT NULL,
    status          text NOT NULL CHECK (status IN ('ok', 'error')),
    http_status     integer,
    error_type      text
);
CREATE INDEX IF NOT EXISTS usage_ledger_time_idx ON usage_ledger (created_at);
CREATE INDEX IF NOT EXISTS usage_ledger_business_idx ON usage_ledger (business_id, created_at);

-- One shared request/token budget per provider, used by every process (sensor runs, column
-- batches, search) so that N concurrent runs together stay under the account's RPM/TPM.
CREATE TABLE IF NOT EXISTS api_rate_limits (
    name                text PRIMARY KEY,
    rpm                 integer NOT NULL CHECK (rpm > 0),
    tpm                 integer NOT NULL CHECK (tpm > 0),
    requests_available  double precision NOT NULL,
    tokens_available    double precision NOT NULL,
    blocked_until       timestamptz NOT NULL DEFAULT '-infinity',
    refreshed_at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
