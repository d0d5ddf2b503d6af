-- metrics_by_device: session measures per (dt, device).
-- Grain: one row per (dt, device).
-- Inputs: metrics_base.

select * exclude (grouping_set, source, medium, landing_page, channel, country)
from metrics_base
where grouping_set = 'device'
