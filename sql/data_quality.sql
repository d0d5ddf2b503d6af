-- data_quality: what this run read, dropped and found, per day, to chart in a BI tool.
-- Grain: one row per (run_id, dt).
-- Inputs: stg_events, ranked_copies, rejects, sessions and bot_sessions (as written by this
--         run), run_days (every day this run writes, so a day without events has a row of
--         zeros).
-- Parameters: $run_id, $first_day and $last_day (the days this run writes), $all_days (a
--             full run, whose days are all days: the tests of a session's day fold away).
-- Rows are counted on their row_day (the day of their event_time when it is plausible);
-- sessions on the day they started.

with

-- (row_day is a date, grouped as such: dt, its text, is made once per day)
rows_by_day as (
    select
        cast(row_day as varchar) as dt,
        count(*) as rows_read,
        sum(case when is_late then 1 else 0 end) as late_events
    from stg_events
    where row_day between cast($first_day as date) and cast($last_day as date)
    group by row_day
),

duplicates_by_day as (
    select cast(row_day as varchar) as dt, count(*) as duplicates
    from ranked_copies
    where not is_kept_copy
        and is_exact_copy
        and row_day between cast($first_day as date) and cast($last_day as date)
    group by row_day
),

rejects_by_day as (
    select dt, count(*) as rejected_rows
    from rejects
    group by 1
),

sessions_by_day as (
    select
        dt,
        count(*) as sessions,
        sum(event_count) as events_sessionized,
        sum(case when source is null or source = '(not set)' then 1 else 0 end)
            as unknown_source_sessions,
        sum(case when device is null or device = '(not set)' then 1 else 0 end)
            as unknown_device_sessions
    from sessions
    where $all_days or dt between $first_day and $last_day
    group by 1
),

bots_by_day as (
    select dt, count(*) as bot_sessions, sum(event_count) as bot_events
    from bot_sessions
    where $all_days or dt between $first_day and $last_day
    group by 1
),

-- step 1: every count on its day, zero where a day has none
counts as (
    select dt, rows_read, late_events, 0 as duplicates, 0 as rejected_rows, 0 as sessions,
        0 as events_sessionized, 0 as unknown_source_sessions, 0 as unknown_device_sessions,
        0 as bot_sessions, 0 as bot_events
    from rows_by_day
    union all
    select dt, 0, 0, duplicates, 0, 0, 0, 0, 0, 0, 0 from duplicates_by_day
    union all
    select dt, 0, 0, 0, rejected_rows, 0, 0, 0, 0, 0, 0 from rejects_by_day
    union all
    select dt, 0, 0, 0, 0, sessions, events_sessionized, unknown_source_sessions,
        unknown_device_sessions, 0, 0
    from sessions_by_day
    union all
    select dt, 0, 0, 0, 0, 0, 0, 0, 0, bot_sessions, bot_events from bots_by_day
    union all
    select dt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 from run_days
),

daily as (
    select
        dt,
        sum(rows_read) as rows_read,
        sum(duplicates) as duplicates,
        sum(rejected_rows) as rejected_rows,
        sum(late_events) as late_events,
        sum(sessions) as sessions,
        sum(events_sessionized) as events_sessionized,
        sum(unknown_source_sessions) as unknown_source_sessions,
        sum(unknown_device_sessions) as unknown_device_sessions,
        sum(bot_sessions) as bot_sessions,
        sum(bot_events) as bot_events
    from counts
    group by dt
),

final as (
    select
        $run_id as run_id,
        dt,
        rows_read,
        duplicates,
        rejected_rows,
        late_events,
        sessions,
        events_sessionized,
        unknown_source_sessions,
        unknown_device_sessions,
        bot_sessions,
        bot_events,
        case when sessions > 0 then cast(unknown_source_sessions as double) / sessions end
            as unknown_source_share,
        case when sessions > 0 then cast(unknown_device_sessions as double) / sessions end
            as unknown_device_share
    from daily
)

select * from final
