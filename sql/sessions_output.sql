-- sessions_output: the sessions table as this run writes it.
-- Grain: one row per (user_id, session_number), for every day this run writes.
-- Inputs: reported_sessions (this run's sessions), kept_earlier_sessions.
-- An earlier day that this run rewrites keeps its other sessions as they were.

select * from reported_sessions
union all by name
select * exclude (kept_apart) from kept_earlier_sessions where not kept_apart
