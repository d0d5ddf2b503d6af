-- bot_sessions_output: the bot_sessions table as this run writes it.
-- Grain: one row per bot session, for every day this run writes.
-- Inputs: reported_sessions (this run's sessions, bots left out unless include_bots),
--         prior_bot_sessions (the table as earlier runs left it),
--         session_anchors.
-- Parameters: $first_day.
-- A session an earlier run left open is written again in its own (earlier) day, so that
-- day's partition is rewritten whole: the sessions this run computed, and the earlier
-- runs' sessions of that day that this run did not recompute.

with

kept_sessions as (
    select prior_bot_sessions.*
    from prior_bot_sessions
    where prior_bot_sessions.dt in (select dt from touched_earlier_days)
        and not exists (
            select 1
            from session_anchors
            where session_anchors.user_id = prior_bot_sessions.user_id
                and prior_bot_sessions.session_start >= session_anchors.anchor_start
        )
),

final as (
    select * from bot_sessions
    union all by name
    select * from kept_sessions
)

select * from final
