-- metrics_by_country: session measures per (dt, country).
-- Grain: one row per (dt, country).
-- Inputs: metrics_base.

select * exclude (grouping_set, channel, source, medium, device, landing_page)
from metrics_base
where grouping_set = 'country'
