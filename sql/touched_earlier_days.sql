-- touched_earlier_days: the days before this run's first day whose partitions it rewrites.
-- Grain: one row per day.
-- Inputs: classified_sessions (this run's sessions, bots' included), session_anchors.
-- Parameters: $first_day.
-- A session an earlier run left open is computed again, and its day's partitions (of
-- sessions and of bot_sessions alike) are rewritten whole.

select distinct dt from classified_sessions where dt < $first_day
union
select distinct anchor_dt as dt from session_anchors
