-- Week over week: sessions, conversions and revenue per week (from Monday), and the change from the week before.
-- Grain: one row per week that has data.
-- Inputs: metrics_daily.

with

weeks as (
    select
        cast(date_trunc('week', cast(dt as timestamp)) as date) as week_start,
        sum(sessions) as sessions,
        sum(converted_sessions) as converted_sessions,
        sum(revenue) as revenue,
    from metrics_daily
    group by 1
),

-- the week before each week, when the output has it
with_previous as (
    select
        week_start,
        sessions,
        converted_sessions,
        revenue,
        lag(sessions) over (order by week_start) as previous_sessions,
        lag(revenue) over (order by week_start) as previous_revenue,
    from weeks
),

final as (
    select
        week_start,
        sessions,
        previous_sessions,
        cast(sessions - previous_sessions as double) / previous_sessions as sessions_change,
        converted_sessions,
        revenue,
        previous_revenue,
        (revenue - previous_revenue) / previous_revenue as revenue_change,
    from with_previous
)

select * from final
order by week_start
