-- reported_sessions: the `sessions` table.
-- Grain: one row per session; sessions of known bots and crawlers left out (they are in
-- bot_sessions) unless [sessions] include_bots = true.
-- Inputs: classified_sessions. Parameters: $include_bots.

select * exclude (page_paths)
from classified_sessions
where not is_bot or $include_bots
