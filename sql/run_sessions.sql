-- run_sessions: the sessions this run computed, as written.
-- Grain: one row per (user_id, session_number).
-- Inputs: sessions and bot_sessions (as written by this run, earlier runs' sessions of a
--         shared day included), session_anchors.
-- kept_apart tells a bot's session (in bot_sessions) from the others: both count in a
-- user's history.
-- Parameters: $first_day.
-- Every session of this run's days, and in an earlier day the sessions from an open
-- session on: the rest of such a day was carried over from earlier runs.

with

written as (
    select *, false as kept_apart from sessions
    union all by name
    select *, true as kept_apart from bot_sessions
),

final as (
    select written.*
    -- the few anchors on the left: DataFusion builds a join's hash table from its left side
    from session_anchors
    right join written on written.user_id = session_anchors.user_id
    where written.dt >= $first_day
        or written.session_start >= session_anchors.anchor_start
)

select * from final
