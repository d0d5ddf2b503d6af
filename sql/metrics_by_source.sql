-- metrics_by_source: session measures per (dt, channel, source, medium).
-- Grain: one row per (dt, channel, source, medium): a (source, medium) has one channel
-- unless campaigns differ.
-- Inputs: metrics_base.

select * exclude (grouping_set, device, landing_page, country)
from metrics_base
where grouping_set = 'source'
