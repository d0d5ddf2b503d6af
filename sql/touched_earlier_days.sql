-- touched_earlier_days: the days before this run's first day whose partitions it rewrites.
-- Grain: one row per day.
-- Inputs: sessions (this run's sessions, bots' included), session_anchors.
-- Parameters: $first_day.
-- A session an earlier run left open is computed again, and its day's partitions (of
-- sessions and of bot_sessions alike) are rewritten whole.

-- (a session of an earlier day starts before this run's days end: the sessions model's
-- later sessions, which classified_sessions drops, are never among these)
select distinct dt from sessions where dt < $first_day
union
select distinct anchor_dt as dt from session_anchors
