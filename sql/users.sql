-- users: one row per user ever sessionized: the history later runs continue from.
-- Grain: one row per user_id.
-- Inputs: prior_users (the table as earlier runs left it; empty for a full run),
--         prior_session_bounds, session_anchors, run_sessions.
-- Parameters: $first_day, $anchor_first_day.
-- Counts are the earlier state, less the sessions this run computed again, plus this run's
-- sessions: all integers, so the table equals one computed over the whole history.
-- A user's sessions before this run's come first in time, so first_seen_at stays unless
-- the first session itself was recomputed, and last_seen_at comes from this run's sessions.

with

-- the earlier runs' sessions that this run replaced
replaced as (
    select user_id, session_start, session_end, event_count, page_view_count,
        conversion_count
    from prior_session_bounds
    where dt >= $first_day
    union all
    select prior_session_bounds.user_id, prior_session_bounds.session_start,
        prior_session_bounds.session_end, prior_session_bounds.event_count,
        prior_session_bounds.page_view_count, prior_session_bounds.conversion_count
    from prior_session_bounds
    join session_anchors
        on prior_session_bounds.user_id = session_anchors.user_id
        and prior_session_bounds.session_start >= session_anchors.anchor_start
    where prior_session_bounds.dt >= $anchor_first_day
        and prior_session_bounds.dt < $first_day
),

removed as (
    select
        user_id,
        count(*) as sessions,
        sum(event_count) as events,
        sum(page_view_count) as page_views,
        sum(conversion_count) as conversions,
        min(session_start) as first_start
    from replaced
    group by user_id
),

added as (
    select
        user_id,
        count(*) as sessions,
        sum(event_count) as events,
        sum(page_view_count) as page_views,
        sum(conversion_count) as conversions,
        min(session_start) as first_start,
        max(session_end) as last_end
    from run_sessions
    group by user_id
),

-- the last session an earlier run kept, for a user whose later sessions all went away
-- (their input rows were removed)
kept_last as (
    select prior_session_bounds.user_id, max(prior_session_bounds.session_end) as last_end
    from prior_session_bounds
    join removed on prior_session_bounds.user_id = removed.user_id
    where prior_session_bounds.dt >= $anchor_first_day
        and prior_session_bounds.session_start < removed.first_start
    group by prior_session_bounds.user_id
),

combined as (
    select
        coalesce(prior_users.user_id, added.user_id) as user_id,
        case
            when removed.first_start is null
                or prior_users.first_seen_at < removed.first_start
                then coalesce(prior_users.first_seen_at, added.first_start)
            else added.first_start
        end as first_seen_at,
        case
            when added.last_end is not null then added.last_end
            when removed.user_id is null then prior_users.last_seen_at
            else coalesce(kept_last.last_end, prior_users.last_seen_at)
        end as last_seen_at,
        coalesce(prior_users.session_count, 0) - coalesce(removed.sessions, 0)
            + coalesce(added.sessions, 0) as session_count,
        coalesce(prior_users.event_count, 0) - coalesce(removed.events, 0)
            + coalesce(added.events, 0) as event_count,
        coalesce(prior_users.page_view_count, 0) - coalesce(removed.page_views, 0)
            + coalesce(added.page_views, 0) as page_view_count,
        coalesce(prior_users.conversion_count, 0) - coalesce(removed.conversions, 0)
            + coalesce(added.conversions, 0) as conversion_count
    from prior_users
    full outer join added on prior_users.user_id = added.user_id
    left join removed on coalesce(prior_users.user_id, added.user_id) = removed.user_id
    left join kept_last on coalesce(prior_users.user_id, added.user_id) = kept_last.user_id
),

final as (
    select
        user_id,
        arrow_cast(first_seen_at, 'Timestamp(µs, "UTC")') as first_seen_at,
        arrow_cast(last_seen_at, 'Timestamp(µs, "UTC")') as last_seen_at,
        session_count,
        event_count,
        page_view_count,
        conversion_count
    from combined
    where session_count > 0
)

select * from final
