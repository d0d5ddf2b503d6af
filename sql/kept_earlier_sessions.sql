-- kept_earlier_sessions: the earlier runs' sessions that this run carries over unchanged into
-- the earlier days whose partitions it rewrites.
-- Grain: one row per session; kept_apart marks a bot's (from bot_sessions).
-- Inputs: prior_sessions and prior_bot_sessions (the tables as earlier runs left them),
--         touched_earlier_days, session_anchors.
-- A session an earlier run left open is written again in its own (earlier) day, so that
-- day's partitions are rewritten whole: the sessions this run computed, and these.

with

prior as (
    select *, false as kept_apart from prior_sessions
    union all by name
    select *, true as kept_apart from prior_bot_sessions
),

final as (
    select prior.*
    from prior
    where prior.dt in (select dt from touched_earlier_days)
        and not exists (
            select 1
            from session_anchors
            where session_anchors.user_id = prior.user_id
                and prior.session_start >= session_anchors.anchor_start
        )
)

select * from final
