-- Conversion by channel (GA4's default channel group): sessions, converted sessions,
-- conversion rate, conversions and revenue.
-- Grain: one row per channel, over every day in the output.
-- Inputs: metrics_by_source.

with

channels as (
    select
        channel,
        sum(sessions) as sessions,
        sum(converted_sessions) as converted_sessions,
        sum(conversions) as conversions,
        sum(revenue) as revenue,
    from metrics_by_source
    group by channel
),

final as (
    select
        channel,
        sessions,
        converted_sessions,
        cast(converted_sessions as double) / sessions as conversion_rate,
        conversions,
        revenue,
    from channels
)

select * from final
order by sessions desc, channel
