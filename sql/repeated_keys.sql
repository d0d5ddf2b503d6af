-- repeated_keys: the hashes of the event keys the input's rows carry more than once.
-- Grain: one row per repeated key hash.
-- Inputs: stg_events.
-- A hash aggregate over every row, kept (materialised) on its own: the few keys it finds are
-- then (with keys_set_aside's NULL for the rejected rows) the small side of the joins that
-- pick out their copies (rows_set_aside) and keep the other events whole
-- (events_deduplicated), and a small materialised table is one the engine
-- knows is small, so it hands a copy to each partition instead of repartitioning every
-- event by key to meet it.
-- By key_hash (src/session_window.rs), a 64-bit integer, not by the key's text: grouping ten
-- million keys and probing them is far cheaper on an integer. Two keys whose hashes collide
-- (a chance in millions of millions at ten million keys) only send their rows to
-- ranked_copies too, where a key seen once is its own kept copy.
-- Over every row, rejected ones too: the row checks read every column, where the key alone
-- is the event_id when every row has one (stg_events). A key repeated only by a rejected row
-- is then one more such harmless extra: ranked_copies reads only the rows that pass, and the
-- one row left is its own kept copy.
select key_hash(event_key) as key_hash
from stg_events
group by 1
having count(*) > 1
