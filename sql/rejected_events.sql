-- rejected_events: the input rows that cannot be placed in a session, with the reason.
-- Grain: one row per rejected input row.
-- Inputs: rows_set_aside (every rejected row among them), ranked_copies.
-- Parameters: $first_day and $last_day (the days this run writes; a row belongs to the day
--             stg_events counts it on).
-- input_row holds the row's original columns, so a fixed row can be replayed as it was.

with

unusable_rows as (
    select input_row, reject_reason, row_day
    from rows_set_aside
    where reject_reason is not null
),

-- an event_id reused with a different payload: the kept copy is sessionized, these are not
conflicting_copies as (
    select input_row, 'duplicate event_id with a different payload' as reject_reason, row_day
    from ranked_copies
    where not is_kept_copy and not is_exact_copy
),

final as (
    select
        input_row,
        reject_reason,
        -- row_day is a date; dt is text, as in every table
        cast(row_day as varchar) as dt
    from (
        select * from unusable_rows
        union all
        select * from conflicting_copies
    )
    where row_day between cast($first_day as date) and cast($last_day as date)
)

select * from final
