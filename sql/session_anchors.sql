-- session_anchors: per user, the session of an earlier run that this run's events may extend.
-- Grain: one row per user with such a session.
-- Inputs: prior_session_bounds (the sessions table as earlier runs left it; empty for a full
--         run or a new output).
-- Parameters: $first_day (this run's first day), $anchor_first_day (the earliest day such a
--             session can have started on), $days_start_us and $timeout_us.
-- A session that ended at least a timeout before this run's first day is closed: the user's
-- next event opens a new one whatever happened before. The user's last session that ended
-- later may still grow, so it is sessionized again from its first event (anchor_start), and
-- its number tells how many sessions the user had before it.

with

open_sessions as (
    select user_id, session_start, session_number, dt
    from prior_session_bounds
    where dt >= $anchor_first_day
        and dt < $first_day
        and arrow_cast(session_end, 'Int64') >= $days_start_us - $timeout_us
),

ranked as (
    select
        *,
        row_number() over (partition by user_id order by session_start desc) as recency
    from open_sessions
),

final as (
    select
        user_id,
        session_start as anchor_start,
        session_number as anchor_number,
        dt as anchor_dt
    from ranked
    where recency = 1
)

select * from final
