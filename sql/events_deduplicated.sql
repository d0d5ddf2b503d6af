-- events_deduplicated: one row per distinct event that can be sessionized.
-- Grain: one row per event_key (the event_id, or a digest of the row when there is none).
-- Inputs: stg_events, keys_set_aside, ranked_copies.
-- Copies of one key count once: the kept copy of ranked_copies. The others are counted as
-- duplicates (exact copies) or rejected (a different payload under the same event_id).

with

-- the common case: a row that passes, with a key seen once. One anti join with the keys set
-- aside (keys_set_aside) holds back both the rejected rows (by the NULL key) and the copies
-- of repeated keys (by their hash); the few keys on the left: DataFusion builds a join's
-- hash table from its left side, and the run keeps joins in the order written
single_events as (
    select stg_events.*
    from keys_set_aside
    right anti join stg_events
        on keys_set_aside.key_hash is not distinct from
            case when stg_events.reject_reason is null then key_hash(stg_events.event_key) end
),

kept_copies as (
    select * exclude (is_kept_copy, is_exact_copy)
    from ranked_copies
    where is_kept_copy
),

final as (
    select * from single_events
    union all
    select * from kept_copies
)

select * from final
