-- metrics_by_source: session measures per (dt, source, medium).
-- Grain: one row per (dt, source, medium).
-- Inputs: metrics_base.

select * exclude (grouping_set, device, landing_page)
from metrics_base
where grouping_set = 'source'
