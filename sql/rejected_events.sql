-- rejected_events: the input rows that cannot be placed in a session, with the reason.
-- Grain: one row per rejected input row.
-- Inputs: stg_events.

select * exclude (event_key, is_page_view, is_conversion)
from stg_events
where reject_reason is not null
