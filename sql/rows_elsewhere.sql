-- rows_elsewhere: the rows a dated run read that belong to days it does not write.
-- Grain: one row per kind, with its count.
-- Inputs: stg_events, ranked_copies, events_deduplicated, session_anchors, sessions.
-- Parameters: $first_day, $last_day, $days_start_us, $days_end_us, $read_end_us.
-- A dated run reads more than its days: the days before, to find sessions it must extend,
-- and the days after, to finish its last sessions. The rows of those days that it does not
-- sessionize are neither lost nor rejected: their own day's run counts them. They are
-- counted here, from the models' own filters, so that every row read is accounted for.

with

rejected_elsewhere as (
    select count(*) as rows_
    from stg_events
    where reject_reason is not null
        and row_day not between cast($first_day as date) and cast($last_day as date)
),

copies_elsewhere as (
    select count(*) as rows_
    from ranked_copies
    where not is_kept_copy
        and row_day not between cast($first_day as date) and cast($last_day as date)
),

-- events before the user's resume point, or past the end of what the run reads
unread_events as (
    select count(*) as rows_
    -- the anchors on the left: a join's hash table is built from its left side
    from session_anchors
    right join events_deduplicated on events_deduplicated.user_id = session_anchors.user_id
    where arrow_cast(events_deduplicated.event_time, 'Int64')
            < coalesce(arrow_cast(session_anchors.anchor_start, 'Int64'), $days_start_us)
        or arrow_cast(events_deduplicated.event_time, 'Int64') >= $read_end_us
),

-- events of sessions that start after this run's days (sessions, materialised, holds them)
later_sessions as (
    select sum(event_count) as rows_
    from sessions
    where arrow_cast(session_start, 'Int64') >= $days_end_us
),

final as (
    select 'rejected rows of other days' as kind, rows_ from rejected_elsewhere
    union all
    select 'copies of events of other days', rows_ from copies_elsewhere
    union all
    select 'events before the resume point or after the read window', rows_ from unread_events
    union all
    select 'events of sessions that start after the run''s days', coalesce(rows_, 0)
    from later_sessions
)

select * from final
