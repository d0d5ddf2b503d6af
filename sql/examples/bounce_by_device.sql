-- Bounce rate by device: sessions, bounces and the share of sessions that bounced.
-- Grain: one row per device, over every day in the output.
-- Inputs: metrics_by_device.

with

devices as (
    select
        device,
        sum(sessions) as sessions,
        sum(bounces) as bounces,
    from metrics_by_device
    group by device
),

final as (
    select
        device,
        sessions,
        bounces,
        cast(bounces as double) / sessions as bounce_rate,
    from devices
)

select * from final
order by sessions desc, device
