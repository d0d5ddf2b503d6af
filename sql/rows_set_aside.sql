-- rows_set_aside: the input rows that do not go straight into sessions: every rejected row,
-- and every row that passes whose event_key is repeated (its copies, ranked in
-- ranked_copies).
-- Grain: one row per such input row.
-- Inputs: stg_events, keys_set_aside (the repeated keys, and NULL for the rejected rows).
-- Both kinds come from one scan of the input, by one join with the few keys set aside
-- (keys_set_aside): a join takes only the rows it matches, where picking the rejected rows
-- with a filter of their own meant a second scan of every column of every row (the rejects'
-- own, 1.1 s of CPU at 10 million events), and keeping the rows that pass before the join
-- copied every one of them.

with

final as (
    select stg_events.*
    -- the few keys on the left, as DataFusion builds a join's hash table from its left side
    from keys_set_aside
    join stg_events
        on keys_set_aside.key_hash is not distinct from
            case when stg_events.reject_reason is null then key_hash(stg_events.event_key) end
)

select * from final
