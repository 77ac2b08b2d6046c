-- The one Dagster run working on a column-batch operation. A run that finds the operation running under
-- another run stops instead of generating the same rows again (a pause and resume while the first run
-- still waited in the run queue launches a second one); a run retry takes over from the run it retries.
ALTER TABLE column_batch_operations ADD COLUMN IF NOT EXISTS run_id text;
