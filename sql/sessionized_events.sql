-- sessionized_events: one row per deduplicated event, with the user's session_number.
-- Grain: one row per event_key.
-- Inputs: events_deduplicated.
-- Parameters: $timeout_us (the inactivity timeout in microseconds),
--             $new_session_on_equal_gap (true: a gap exactly equal to the timeout starts a
--             new session, as in Beam; false: it does not, as in Spark, Flink and Segment).
-- Every window orders by (event_time, event_key): a total order, so the result does not
-- depend on input order, file order or thread count; one sort serves both windows.

with

events as (
    select * from events_deduplicated
),

-- step 1: the user's previous event
previous_events as (
    select
        *,
        lag(event_time) over (
            partition by user_id
            order by event_time, event_key
        ) as previous_event_at
    from events
),

-- step 2: the gap, in whole microseconds: no rounding to seconds hides an 1800.4 s gap
gaps as (
    select
        *,
        arrow_cast(event_time, 'Int64') - arrow_cast(previous_event_at, 'Int64') as gap_us
    from previous_events
),

-- step 3: does this event open a session?
session_starts as (
    select
        *,
        previous_event_at is null
            or gap_us > $timeout_us
            or (gap_us = $timeout_us and $new_session_on_equal_gap) as is_session_start
    from gaps
),

-- step 4: the running count of session starts is the user's session number
numbered as (
    select
        *,
        sum(case when is_session_start then 1 else 0 end) over (
            partition by user_id
            order by event_time, event_key
            rows between unbounded preceding and current row
        ) as session_number
    from session_starts
),

final as (
    select * from numbered
)

select * from final
