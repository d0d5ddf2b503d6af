-- events_deduplicated: one row per distinct event that can be sessionized.
-- Grain: one row per event_key (the event_id, or a digest of the row when there is none).
-- Inputs: stg_events.
-- Copies of one key, exact (at-least-once delivery) or with different payloads, count once:
-- the earliest copy wins, the other columns breaking ties so the choice is total.
-- A hash aggregate finds the repeated keys; only their few rows go through a window, as a
-- window partitioned by key over every row is far slower (millions of tiny partitions).

with

valid_events as (
    select * from stg_events
    where reject_reason is null
),

-- keys seen more than once
repeated_keys as (
    select event_key
    from valid_events
    group by event_key
    having count(*) > 1
),

-- the common case: a key seen once needs no ranking
single_events as (
    select * from valid_events
    where not exists (
        select 1 from repeated_keys where repeated_keys.event_key = valid_events.event_key
    )
),

-- the copies of each repeated key, earliest first
ranked_copies as (
    select
        *,
        row_number() over (
            partition by event_key
            order by
                event_time, user_id, event_name, page_url, referrer, utm_source, utm_medium,
                utm_campaign, device, user_agent, country, revenue
        ) as copy_rank
    from valid_events
    where exists (
        select 1 from repeated_keys where repeated_keys.event_key = valid_events.event_key
    )
),

final as (
    select * from single_events
    union all
    select * exclude (copy_rank) from ranked_copies
    where copy_rank = 1
)

select * from final
