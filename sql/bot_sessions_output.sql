-- bot_sessions_output: the bot_sessions table as this run writes it.
-- Grain: one row per bot session, for every day this run writes.
-- Inputs: bot_sessions (this run's bot sessions), kept_earlier_sessions.
-- An earlier day that this run rewrites keeps its other bot sessions as they were.

select * from bot_sessions
union all by name
select * exclude (kept_apart) from kept_earlier_sessions where kept_apart
