-- The ten landing pages that started the most sessions, with their bounce and conversion rates.
-- Grain: one row per landing page, over every day in the output (filter on dt to narrow it).
-- Inputs: metrics_by_landing_page.
-- Rates are recomputed from the summed counts, never averaged across days.

with

pages as (
    select
        landing_page,
        sum(sessions) as sessions,
        sum(bounces) as bounces,
        sum(converted_sessions) as converted_sessions,
        sum(revenue) as revenue,
    from metrics_by_landing_page
    group by landing_page
),

final as (
    select
        landing_page,
        sessions,
        cast(bounces as double) / sessions as bounce_rate,
        cast(converted_sessions as double) / sessions as conversion_rate,
        revenue,
    from pages
)

select * from final
order by sessions desc, landing_page
limit 10
