-- classified_sessions: every session with its channel, device, browser, OS and bot flag.
-- Grain: one row per session, bots included.
-- Inputs: sessions, session_sources (each raw attribution normalised), traffic_channels,
--         user_agent_lookup (each distinct user agent parsed once, by src/user_agents.rs).
-- Parameters: $days_end_us (sessions that start after a dated run's days belong to a later
--             run, and are left out here).
-- The data's own device wins; the user agent fills in where the data has none.

with

sessions_in as (
    select * from sessions
    where arrow_cast(session_start, 'Int64') < $days_end_us
),

-- each raw attribution with its channel: a few rows, joined to the sessions in one pass
attributions as (
    select
        session_sources.*,
        traffic_channels.channel
    from traffic_channels
    right join session_sources
        on session_sources.source = traffic_channels.source
        and session_sources.medium = traffic_channels.medium
        and session_sources.campaign = traffic_channels.campaign
),

final as (
    select
        sessions_in.session_id,
        sessions_in.user_id,
        sessions_in.session_number,
        sessions_in.session_start,
        sessions_in.session_end,
        sessions_in.duration_s,
        sessions_in.event_count,
        sessions_in.page_view_count,
        sessions_in.landing_page,
        sessions_in.exit_page,
        sessions_in.referrer,
        attributions.source,
        attributions.medium,
        attributions.campaign,
        attributions.channel,
        coalesce(sessions_in.device, user_agent_lookup.ua_device) as device,
        user_agent_lookup.ua_browser as browser,
        user_agent_lookup.ua_os as os,
        sessions_in.country,
        sessions_in.is_bounce,
        sessions_in.is_engaged,
        sessions_in.conversion_count,
        sessions_in.revenue,
        sessions_in.is_new_user,
        coalesce(user_agent_lookup.is_bot, false) as is_bot,
        sessions_in.dt,
        sessions_in.page_paths
    -- the small lookups on the left: DataFusion builds a join's hash table from its left side
    from user_agent_lookup
    right join (
        attributions
        right join sessions_in
            on sessions_in.source = attributions.raw_source
            and sessions_in.medium = attributions.raw_medium
            and sessions_in.campaign = attributions.raw_campaign
            and sessions_in.has_utm = attributions.has_utm
            -- NULL (no click id) matches NULL: as an equality the engine hashes it with the
            -- other keys, where IS NOT DISTINCT FROM was a filter on every matched pair
            and coalesce(sessions_in.click_source, '') = coalesce(attributions.click_source, '')
    ) on sessions_in.user_agent = user_agent_lookup.user_agent
)

select * from final
