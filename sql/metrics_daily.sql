-- metrics_daily: session measures per (dt).
-- Grain: one row per (dt).
-- Inputs: metrics_base.

select * exclude (grouping_set, source, medium, device, landing_page, channel, country)
from metrics_base
where grouping_set = 'daily'
