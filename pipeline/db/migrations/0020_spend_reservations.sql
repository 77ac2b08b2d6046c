-- One row per request in flight: what it reserved, for which run and on which day. A request settles
-- its own row; a run retry gives back the rows of the run it retries (killed mid-request, they never
-- settled) and the reserved amount leaves the counter of the day it was reserved on, not today's.
CREATE TABLE IF NOT EXISTS spend_reservations (
    id            bigserial PRIMARY KEY,
    operation_id  bigint NOT NULL REFERENCES column_batch_operations (id) ON DELETE CASCADE,
    run_id        text NOT NULL,
    requested_by  text NOT NULL,
    day           date NOT NULL DEFAULT current_date,
    amount_usd    numeric(14, 8) NOT NULL CHECK (amount_usd >= 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS spend_reservations_operation_run ON spend_reservations (operation_id, run_id);
