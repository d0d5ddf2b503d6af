-- sessionized_events: the events this run sessionizes, each with its session's index.
-- Grain: one row per event_key.
-- Inputs: events_deduplicated, session_anchors.
-- Parameters: $timeout_us (the inactivity timeout in microseconds),
--             $max_duration_us (a session is split once it would last this long; 0: never),
--             $new_session_on_equal_gap (true: a gap exactly equal to the timeout starts a
--             new session, as in Beam; false: it does not, as in Spark, Flink and Segment),
--             $days_start_us and $read_end_us (this run's days start, and where the events
--             read to complete their last sessions end; unbounded for a full run).
-- A user's events start at the session an earlier run may have left open (session_anchors),
-- else at the start of this run's days: the first event read is always a session's first,
-- so `session_index` (1, 2, … per user) needs nothing from before it.
-- Every window orders by (event_time, event_key): a total order, so the result does not
-- depend on input order, file order or thread count.

with

events as (
    select * from events_deduplicated
),

-- step 1: the events of this run's sessions, from each user's resume point on
in_window as (
    select
        events.*,
        arrow_cast(events.event_time, 'Int64') as event_us
    from events
    left join session_anchors on events.user_id = session_anchors.user_id
    where arrow_cast(events.event_time, 'Int64')
            >= coalesce(arrow_cast(session_anchors.anchor_start, 'Int64'), $days_start_us)
        and arrow_cast(events.event_time, 'Int64') < $read_end_us
),

-- step 2: one pass in event order per user: a new session after the timeout, or once the
-- session would reach the maximum duration
indexed as (
    select
        * exclude (event_us),
        session_index(event_us, $timeout_us, $max_duration_us, $new_session_on_equal_gap) over (
            partition by user_id
            order by event_time, event_key
        ) as session_index
    from in_window
),

final as (
    select * from indexed
)

select * from final
