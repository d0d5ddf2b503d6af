-- repeated_keys: the event keys that the sessionizable rows carry more than once.
-- Grain: one row per repeated event_key.
-- Inputs: stg_events.
-- A hash aggregate over every row, kept (materialised) on its own: the few keys it finds are
-- then the small side of the joins that pick out their copies (ranked_copies) and keep the
-- other events whole (events_deduplicated), and a small materialised table is one the engine
-- knows is small, so it hands a copy to each partition instead of repartitioning every
-- event by key to meet it.

select event_key
from stg_events
where reject_reason is null
group by event_key
having count(*) > 1
