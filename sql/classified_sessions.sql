-- classified_sessions: every session with its channel, device, browser, OS and bot flag.
-- Grain: one row per session, bots included.
-- Inputs: agent_sessions (the sessions of this run's days with their device, browser, OS and
--         bot flag), session_sources (each raw attribution normalised), traffic_channels.

with

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
        agent_sessions.session_id,
        agent_sessions.user_id,
        agent_sessions.session_number,
        agent_sessions.session_start,
        agent_sessions.session_end,
        agent_sessions.duration_s,
        agent_sessions.event_count,
        agent_sessions.page_view_count,
        agent_sessions.landing_page,
        agent_sessions.exit_page,
        agent_sessions.referrer,
        attributions.source,
        attributions.medium,
        attributions.campaign,
        attributions.channel,
        agent_sessions.device,
        agent_sessions.browser,
        agent_sessions.os,
        agent_sessions.country,
        agent_sessions.is_bounce,
        agent_sessions.is_engaged,
        agent_sessions.conversion_count,
        agent_sessions.revenue,
        agent_sessions.is_new_user,
        agent_sessions.is_bot,
        agent_sessions.dt,
        agent_sessions.page_paths
    -- the few attributions on the left: DataFusion builds a join's hash table from its left
    -- side
    from attributions
    right join agent_sessions
        on agent_sessions.source = attributions.raw_source
        and agent_sessions.medium = attributions.raw_medium
        and agent_sessions.campaign = attributions.raw_campaign
        and agent_sessions.has_utm = attributions.has_utm
        -- NULL (no click id) matches NULL: as an equality the engine hashes it with the
        -- other keys, where IS NOT DISTINCT FROM was a filter on every matched pair
        and coalesce(agent_sessions.click_source, '') = coalesce(attributions.click_source, '')
)

select * from final
