-- classified_sessions: every session with its channel, device, browser, OS and bot flag.
-- Grain: one row per session, bots included.
-- Inputs: session_sources, traffic_channels,
--         user_agent_lookup (each distinct user agent parsed once, by src/user_agents.rs).
-- The data's own device wins; the user agent fills in where the data has none.

with

sessions_in as (
    select * from session_sources
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
        sessions_in.source,
        sessions_in.medium,
        sessions_in.campaign,
        traffic_channels.channel,
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
        traffic_channels
        right join sessions_in
            on sessions_in.source = traffic_channels.source
            and sessions_in.medium = traffic_channels.medium
            and sessions_in.campaign = traffic_channels.campaign
    ) on sessions_in.user_agent = user_agent_lookup.user_agent
)

select * from final
