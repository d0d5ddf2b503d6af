-- bot_sessions: the sessions of known bots and crawlers (by user agent), kept apart.
-- Grain: one row per bot session; empty when [sessions] include_bots = true (they are then
-- in `sessions`).
-- Inputs: classified_sessions. Parameters: $include_bots.

select * exclude (page_paths)
from classified_sessions
where is_bot and not $include_bots
