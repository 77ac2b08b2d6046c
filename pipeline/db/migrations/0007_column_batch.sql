-- Column-batch generation: an LLM fills or rewrites one allowlisted column for many rows.

CREATE TABLE IF NOT EXISTS glossary_terms (
    id          bigserial PRIMARY KEY,
    term        text NOT NULL UNIQUE,
    definition  text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS column_batch_operations (
    id                      bigserial PRIMARY KEY,
    target_table            text NOT NULL,
    target_column           text NOT NULL,
    key_column              text NOT NULL,
    prompt_template         text NOT NULL,
    row_filter              jsonb NOT NULL DEFAULT '{}',
    model                   text NOT NULL,
    temperature             numeric(3, 2) NOT NULL CHECK (temperature BETWEEN 0 AND 2),
    max_output_tokens       integer NOT NULL CHECK (max_output_tokens > 0),
    batch_size              integer NOT NULL CHECK (batch_size BETWEEN 1 AND 200),
    rows_per_request        integer NOT NULL CHECK (rows_per_request BETWEEN 1 AND 200),
    max_concurrent_batches  integer NOT NULL CHECK (max_concurrent_batches BETWEEN 1 AND 5),
    regenerate_existing     boolean NOT NULL DEFAULT false,
    pause_on_error          boolean NOT NULL DEFAULT true,
    max_total_cost_usd      numeric(14, 8) NOT NULL CHECK (max_total_cost_usd > 0),
    max_cost_per_row_usd    numeric(12, 8) CHECK (max_cost_per_row_usd > 0),
    warning_threshold_pct   numeric(5, 2) NOT NULL DEFAULT 80 CHECK (warning_threshold_pct BETWEEN 1 AND 100),
    max_error_rate          numeric(4, 3) NOT NULL DEFAULT 0.2 CHECK (max_error_rate BETWEEN 0 AND 1),
    requested_by            text NOT NULL,
    state                   text NOT NULL DEFAULT 'draft' CHECK (state IN
                            ('draft', 'estimated', 'queued', 'running', 'paused', 'completed', 'cancelled', 'failed')),
    state_reason            text,
    estimate                jsonb,
    total_rows              integer NOT NULL DEFAULT 0,
    spent_usd               numeric(14, 8) NOT NULL DEFAULT 0,
    reserved_usd            numeric(14, 8) NOT NULL DEFAULT 0,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    launched_at             timestamptz,  -- last time the sensor launched a run for it (launch quotas)
    started_at              timestamptz,  -- first time a run began generating (pins the row selection)
    finished_at             timestamptz
);
CREATE INDEX IF NOT EXISTS column_batch_operations_state_idx ON column_batch_operations (state);

-- The rows an operation covers, pinned when it is estimated: a resumed run continues with exactly
-- the rows still pending, and previous_value makes a rollback possible.
CREATE TABLE IF NOT EXISTS column_batch_rows (
    operation_id    bigint NOT NULL REFERENCES column_batch_operations (id) ON DELETE CASCADE,
    row_key         text NOT NULL,
    batch_no        integer NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'done', 'failed', 'skipped', 'rolled_back')),
    previous_value  text,
    new_value       text,
    input_tokens    integer NOT NULL DEFAULT 0,
    output_tokens   integer NOT NULL DEFAULT 0,
    cost_usd        numeric(14, 8) NOT NULL DEFAULT 0,
    attempts        integer NOT NULL DEFAULT 0,
    error           text,
    quality_flags   text[] NOT NULL DEFAULT '{}',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation_id, row_key)
);
CREATE INDEX IF NOT EXISTS column_batch_rows_pending_idx ON column_batch_rows (operation_id, status, batch_no);

CREATE TABLE IF NOT EXISTS column_batch_batches (
    operation_id   bigint NOT NULL REFERENCES column_batch_operations (id) ON DELETE CASCADE,
    batch_no       integer NOT NULL,
    status         text NOT NULL CHECK (status IN ('done', 'partial', 'failed')),
    rows_done      integer NOT NULL,
    rows_failed    integer NOT NULL,
    input_tokens   integer NOT NULL,
    output_tokens  integer NOT NULL,
    cost_usd       numeric(14, 8) NOT NULL,
    run_id         text,
    finished_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (operation_id, batch_no)
);

-- Spend per scope and day, with reservations: a request reserves its worst case before it is sent
-- and settles to the actual cost after, under row locks, so no cap is ever passed.
CREATE TABLE IF NOT EXISTS spend_counters (
    scope         text NOT NULL,         -- 'global' or 'user:<name>'
    day           date NOT NULL,
    spent_usd     numeric(14, 8) NOT NULL DEFAULT 0,
    reserved_usd  numeric(14, 8) NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, day)
);

CREATE TABLE IF NOT EXISTS emergency_stop (
    id          integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    active      boolean NOT NULL DEFAULT false,
    changed_by  text,
    reason      text,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO emergency_stop (id, active) VALUES (1, false) ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS emergency_stop_audit (
    id       bigserial PRIMARY KEY,
    active   boolean NOT NULL,
    actor    text NOT NULL,
    reason   text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now()
);
