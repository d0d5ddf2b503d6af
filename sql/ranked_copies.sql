-- ranked_copies: the sessionizable rows whose event_key occurs more than once.
-- Grain: one row per input row of a repeated key (and of the rare key seen once whose hash
-- collides with a repeated one's: it is its own kept copy, as in events_deduplicated).
-- Inputs: rows_set_aside (the rows of repeated keys, and the rejected rows).
-- is_kept_copy marks the copy that is kept: the earliest, the other columns breaking ties so
-- the choice is total. is_exact_copy tells a redelivery (same payload as the kept copy) from
-- a conflicting row that merely reuses the event_id.
-- A hash aggregate found the repeated keys (repeated_keys); only their few rows go through a
-- window, as a window partitioned by key over every row is far slower (millions of tiny
-- partitions). Even over the copies alone, a window partitioned by key paid more for its
-- bookkeeping per partition (one per key: 100,000 at 10 million events) than for its work, so
-- the window here is partitioned by a bucket of keys and ordered by key first, and a key's
-- first row is found by comparing it with the row before it.

with

copies as (
    select
        rows_set_aside.*,
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
        )) as payload_digest,
        hash_bucket(rows_set_aside.event_key) as key_bucket
    from rows_set_aside
    where reject_reason is null
),

-- step 1: in copy order, each key's copies together: which row starts its key, and which
-- brings a payload other than the row before it (the copy order sorts by every column of
-- the payload, so the copies equal to the kept one come right after it, and a key's first
-- payload change ends them)
ordered as (
    select
        *,
        row_number() over copy_order as position,
        event_key is distinct from lag(event_key) over copy_order as is_kept_copy,
        payload_digest is distinct from lag(payload_digest) over copy_order as is_new_payload
    from copies
    window copy_order as (
        partition by key_bucket
        order by
            event_key, event_time, user_id, event_name, page_url, referrer, utm_source,
            utm_medium, utm_campaign, device, user_agent, country, revenue
    )
),

-- step 2: a copy is exact while no other payload has come since its key's first row: the
-- last key start and the last payload change, carried down in step 1's order, are then the
-- same row (ordered by step 1's position, not by the columns again: copies tied on every
-- column could come in another order the second time)
ranked as (
    select
        *,
        max(case when is_kept_copy then position end) over step_one_order as key_start,
        max(case when is_kept_copy or is_new_payload then position end) over step_one_order
            as payload_start
    from ordered
    window step_one_order as (
        partition by key_bucket
        order by position
        rows between unbounded preceding and current row
    )
),

final as (
    select
        * exclude (
            key_bucket, payload_digest, position, is_new_payload, key_start, payload_start
        ),
        payload_start = key_start as is_exact_copy
    from ranked
)

select * from final
