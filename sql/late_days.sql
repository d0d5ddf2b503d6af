-- late_days: the earliest day of the late events in the folders a dated run was asked for.
-- Grain: one row.
-- Inputs: stg_events (the input of the requested dt= folders only).
-- Parameters: $first_day (the first requested day).
-- An event delivered under a later folder than its day changes that earlier day, which a
-- dated run then computes again. Rows rejected for their time say nothing of a day.

select min(event_day) as earliest_late_day
from stg_events
where reject_reason is null
    and event_day < cast($first_day as date)
