-- metrics_by_landing_page: session measures per (dt, landing_page).
-- Grain: one row per (dt, landing_page).
-- Inputs: metrics_base.

select * exclude (grouping_set, source, medium, device, channel, country)
from metrics_base
where grouping_set = 'landing_page'
