-- Conversion by channel (source / medium): sessions, converted sessions, conversion rate, revenue.
-- Grain: one row per (source, medium), over every day in the output.
-- Inputs: metrics_by_source.

with

channels as (
    select
        source,
        medium,
        sum(sessions) as sessions,
        sum(converted_sessions) as converted_sessions,
        sum(conversions) as conversions,
        sum(revenue) as revenue,
    from metrics_by_source
    group by source, medium
),

final as (
    select
        source,
        medium,
        sessions,
        converted_sessions,
        cast(converted_sessions as double) / sessions as conversion_rate,
        conversions,
        revenue,
    from channels
)

select * from final
order by sessions desc, source, medium
