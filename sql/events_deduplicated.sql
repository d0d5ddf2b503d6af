-- events_deduplicated: one row per distinct event that can be sessionized.
-- Grain: one row per event_key (the event_id, or a digest of the row when there is none).
-- Inputs: stg_events, repeated_keys, ranked_copies.
-- Copies of one key count once: the kept copy of ranked_copies. The others are counted as
-- duplicates (exact copies) or rejected (a different payload under the same event_id).

with

valid_events as (
    select * from stg_events
    where reject_reason is null
),

-- the common case: a key seen once, by its hash (the few repeated keys on the left:
-- DataFusion builds a join's hash table from its left side, and the run keeps joins in the
-- order written)
single_events as (
    select valid_events.*
    from repeated_keys
    right anti join valid_events on repeated_keys.key_hash = key_hash(valid_events.event_key)
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
