-- ranked_copies: the sessionizable rows whose event_key occurs more than once.
-- Grain: one row per input row of a repeated key.
-- Inputs: stg_events, repeated_keys.
-- copy_rank 1 is the copy that is kept: the earliest, the other columns breaking ties so the
-- choice is total. is_exact_copy tells a redelivery (same payload as the kept copy) from a
-- conflicting row that merely reuses the event_id.
-- A hash aggregate found the repeated keys (repeated_keys); only their few rows go through a
-- window, as a window partitioned by key over every row is far slower (millions of tiny
-- partitions).

with

valid_events as (
    select * from stg_events
    where reject_reason is null
),

copies as (
    select
        valid_events.*,
        -- the payload, to compare copies by
        md5(concat_ws(
            chr(31),
            user_id,
            cast(event_time as varchar),
            coalesce(event_name, chr(30)),
            coalesce(page_url, chr(30)),
            coalesce(referrer, chr(30)),
            coalesce(utm_source, chr(30)),
            coalesce(utm_medium, chr(30)),
            coalesce(utm_campaign, chr(30)),
            coalesce(device, chr(30)),
            coalesce(user_agent, chr(30)),
            coalesce(country, chr(30)),
            coalesce(cast(revenue as varchar), chr(30))
        )) as payload_digest
    -- an inner join, as each repeated key is there once; the few keys on the left, as
    -- DataFusion builds a join's hash table from its left side
    from repeated_keys
    join valid_events on repeated_keys.event_key = valid_events.event_key
),

ranked as (
    select
        *,
        row_number() over copy_order as copy_rank,
        first_value(payload_digest) over copy_order as kept_payload_digest
    from copies
    window copy_order as (
        partition by event_key
        order by
            event_time, user_id, event_name, page_url, referrer, utm_source, utm_medium,
            utm_campaign, device, user_agent, country, revenue
        rows between unbounded preceding and current row
    )
),

final as (
    select
        * exclude (payload_digest, kept_payload_digest),
        payload_digest = kept_payload_digest as is_exact_copy
    from ranked
)

select * from final
