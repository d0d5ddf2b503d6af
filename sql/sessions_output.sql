-- sessions_output: the sessions table as this run writes it.
-- Grain: one row per (user_id, session_number), for every day this run writes.
-- Inputs: reported_sessions (this run's sessions, bots left out unless include_bots),
--         prior_sessions (the table as earlier runs left it),
--         session_anchors.
-- Parameters: $first_day.
-- A session an earlier run left open is written again in its own (earlier) day, so that
-- day's partition is rewritten whole: the sessions this run computed, and the earlier
-- runs' sessions of that day that this run did not recompute.

with

kept_sessions as (
    select prior_sessions.*
    from prior_sessions
    where prior_sessions.dt in (select dt from touched_earlier_days)
        and not exists (
            select 1
            from session_anchors
            where session_anchors.user_id = prior_sessions.user_id
                and prior_sessions.session_start >= session_anchors.anchor_start
        )
),

final as (
    select * from reported_sessions
    union all by name
    select * from kept_sessions
)

select * from final
