-- run_sessions: the sessions this run computed, as written.
-- Grain: one row per (user_id, session_number).
-- Inputs: sessions (as written by this run, earlier runs' sessions of a shared day included),
--         session_anchors.
-- Parameters: $first_day.
-- Every session of this run's days, and in an earlier day the sessions from an open
-- session on: the rest of such a day was carried over from earlier runs.

select sessions.*
from sessions
left join session_anchors on sessions.user_id = session_anchors.user_id
where sessions.dt >= $first_day
    or sessions.session_start >= session_anchors.anchor_start
