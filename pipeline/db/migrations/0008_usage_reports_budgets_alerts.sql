-- Daily usage rollup (rebuilt per day by the usage_daily asset), budgets, and alerts.

CREATE TABLE IF NOT EXISTS usage_daily (
    day             date NOT NULL,
    business_id     bigint NOT NULL DEFAULT 0,      -- 0: not attributable to one business
    model           text NOT NULL,
    endpoint        text NOT NULL,
    workload        text NOT NULL,
    requests        integer NOT NULL,
    errors          integer NOT NULL,
    input_tokens    bigint NOT NULL,
    output_tokens   bigint NOT NULL,
    cost_usd        numeric(14, 8) NOT NULL,
    latency_p50_ms  double precision,
    latency_p95_ms  double precision,
    PRIMARY KEY (day, business_id, model, endpoint, workload)
);

CREATE TABLE IF NOT EXISTS budgets (
    id              bigserial PRIMARY KEY,
    scope_type      text NOT NULL CHECK (scope_type IN ('global', 'business', 'user', 'operation')),
    scope_id        text NOT NULL DEFAULT '',       -- business id, user name or operation id; '' for global
    period          text NOT NULL CHECK (period IN ('day', 'week', 'month')),
    amount_usd      numeric(14, 8) NOT NULL CHECK (amount_usd > 0),
    thresholds_pct  integer[] NOT NULL DEFAULT '{50,80,95}',
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (scope_type, scope_id, period)
);

-- One row per firing: the unique key makes a condition alert once per period, not on every request.
CREATE TABLE IF NOT EXISTS alerts (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL,          -- budget | error_rate | latency | spike | quota | milestone | health
    scope        text NOT NULL,
    period_key   text NOT NULL,          -- e.g. the day or the budget period it belongs to
    level        text NOT NULL,          -- threshold or state that fired, e.g. '80' or 'exceeded'
    severity     text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    message      text NOT NULL,
    fired_at     timestamptz NOT NULL DEFAULT now(),
    notified_at  timestamptz,
    resolved_at  timestamptz,
    UNIQUE (kind, scope, period_key, level)
);
CREATE INDEX IF NOT EXISTS alerts_unnotified_idx ON alerts (notified_at) WHERE notified_at IS NULL;

-- Who did what, for admin actions and budget changes.
CREATE TABLE IF NOT EXISTS admin_actions (
    id          bigserial PRIMARY KEY,
    action      text NOT NULL,
    actor       text NOT NULL,
    params      jsonb NOT NULL DEFAULT '{}',
    result      jsonb,
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
);
