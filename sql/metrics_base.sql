-- metrics_base: the session measures of every metrics table, in one pass over sessions for
-- the sums and one per dimension for the users.
-- Grain: one row per day and per value of one dimension (grouping_set names which).
-- Inputs: sessions (as written by this run), run_days (the days this run writes).
-- Counts and sums are additive; rates are derived from the sums, never averaged.
-- A day without sessions still has its daily row, of zeros (rates NULL), so a chart shows a
-- zero rather than a gap.

with

session_rows as (
    select
        dt,
        coalesce(channel, 'Unassigned') as channel,
        coalesce(source, '(not set)') as source,
        coalesce(medium, '(not set)') as medium,
        coalesce(device, '(not set)') as device,
        -- a session without a page view has no landing page
        coalesce(landing_page, '(not set)') as landing_page,
        coalesce(country, '(not set)') as country,
        user_id,
        is_new_user,
        page_view_count,
        event_count,
        arrow_cast(session_end, 'Int64') - arrow_cast(session_start, 'Int64') as duration_us,
        is_bounce,
        is_engaged,
        conversion_count,
        revenue
    from sessions
),

-- step 1: the sums per day and per value of each dimension (each grouping set leaves the
-- dimensions it does not group by NULL, and those it does are never NULL)
sums as (
    select
        dt,
        channel,
        source,
        medium,
        device,
        landing_page,
        country,
        count(*) as sessions,
        sum(case when is_new_user then 1 else 0 end) as new_users,
        sum(page_view_count) as page_views,
        sum(event_count) as events,
        -- exact sums (integers, decimals), so a rerun gives the same numbers to the last bit
        cast(sum(duration_us) as double) / 1000000.0 as total_duration_s,
        sum(case when is_bounce then 1 else 0 end) as bounces,
        sum(case when is_engaged then 1 else 0 end) as engaged_sessions,
        sum(conversion_count) as conversions,
        sum(case when conversion_count > 0 then 1 else 0 end) as converted_sessions,
        cast(sum(cast(revenue as decimal(38, 9))) as double) as revenue
    from session_rows
    group by grouping sets (
        (dt),
        (dt, channel, source, medium),
        (dt, device),
        (dt, landing_page),
        (dt, country)
    )
),

-- step 2: the users, each counted once per day and dimension value. A distinct count
-- would hold a hash set per group that is neither spilled nor counted against the memory
-- limit (at 100 million events it asked for 2.8 GB at the end); a grouping can spill. And
-- five small groupings, one per set, are several times faster than one grouping of every
-- (set, value, user): at 10 million events that one had 10 million groups of 8 columns.
users as (
    select dt, null as channel, null as source, null as medium, null as device,
        null as landing_page, null as country, count(*) as users
    from (select distinct dt, user_id from session_rows)
    group by dt
    union all
    select dt, channel, source, medium, null, null, null, count(*)
    from (select distinct dt, channel, source, medium, user_id from session_rows)
    group by dt, channel, source, medium
    union all
    select dt, null, null, null, device, null, null, count(*)
    from (select distinct dt, device, user_id from session_rows)
    group by dt, device
    union all
    select dt, null, null, null, null, landing_page, null, count(*)
    from (select distinct dt, landing_page, user_id from session_rows)
    group by dt, landing_page
    union all
    select dt, null, null, null, null, null, country, count(*)
    from (select distinct dt, country, user_id from session_rows)
    group by dt, country
),

totals as (
    select sums.*, users.users
    from users
    join sums
        on (sums.dt is not distinct from users.dt)
        and (sums.channel is not distinct from users.channel)
        and (sums.source is not distinct from users.source)
        and (sums.medium is not distinct from users.medium)
        and (sums.device is not distinct from users.device)
        and (sums.landing_page is not distinct from users.landing_page)
        and (sums.country is not distinct from users.country)
),

-- step 3: the days without sessions
empty_days as (
    select
        dt, cast(null as varchar) as channel, cast(null as varchar) as source,
        cast(null as varchar) as medium, cast(null as varchar) as device,
        cast(null as varchar) as landing_page, cast(null as varchar) as country,
        0 as sessions, 0 as users, 0 as new_users, 0 as page_views, 0 as events,
        0.0 as total_duration_s, 0 as bounces, 0 as engaged_sessions, 0 as conversions,
        0 as converted_sessions, 0.0 as revenue
    from run_days
    where dt not in (select dt from session_rows)
),

-- step 4: rates from the sums
final as (
    select
        case
            when source is not null then 'source'
            when device is not null then 'device'
            when landing_page is not null then 'landing_page'
            when country is not null then 'country'
            else 'daily'
        end as grouping_set,
        dt,
        channel,
        source,
        medium,
        device,
        landing_page,
        country,
        sessions,
        users,
        new_users,
        page_views,
        events,
        total_duration_s,
        bounces,
        engaged_sessions,
        conversions,
        converted_sessions,
        revenue,
        cast(bounces as double) / nullif(sessions, 0) as bounce_rate,
        cast(engaged_sessions as double) / nullif(sessions, 0) as engagement_rate,
        cast(converted_sessions as double) / nullif(sessions, 0) as conversion_rate,
        total_duration_s / nullif(sessions, 0) as avg_session_duration_s,
        cast(page_views as double) / nullif(sessions, 0) as pages_per_session
    from (
        select * from totals
        union all by name
        select * from empty_days
    )
)

select * from final
