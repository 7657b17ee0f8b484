-- Open issues looked up without reading an entity's open drift.
-- The earlier scripts' system messages leave about two million open `drift` warnings (scale
-- 1.0): every lookup of an entity's open errors (the keys a build retries, the parity tests'
-- held-back keys, a run's held-back count) or of its open `order_not_migrated` warnings read all
-- of them through row_issues_open_idx, or the whole table (0.3 to 0.9 s each). Both indexes
-- leave drift out, so they stay small and a full build's millions of drift rows do not
-- maintain them; `reason = '<a reason>'` implies `reason <> 'drift'`, which the planner proves.
create index if not exists row_issues_open_errors_idx on diffmig.row_issues (entity, legacy_key)
where resolved_at is null and severity = 'error';
create index if not exists row_issues_open_reasons_idx
on diffmig.row_issues (entity, reason, legacy_key)
where resolved_at is null and reason <> 'drift';

