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

-- every user of the history or of this run (the history on the left, the side a hash table
-- is built from: empty in a full run)
merged as (
    select
        coalesce(prior_users.user_id, added.user_id) as user_id,
        prior_users.first_seen_at as prior_first_seen_at,
        prior_users.last_seen_at as prior_last_seen_at,
        prior_users.session_count as prior_sessions,
        prior_users.event_count as prior_events,
        prior_users.page_view_count as prior_page_views,
        prior_users.conversion_count as prior_conversions,
        added.first_start as added_first_start,
        added.last_end as added_last_end,
        added.sessions as added_sessions,
        added.events as added_events,
        added.page_views as added_page_views,
        added.conversions as added_conversions
    from prior_users
    full outer join added on prior_users.user_id = added.user_id
),

-- the few users whose earlier sessions this run replaces, looked up from the small side: a
-- hash table of every user (500 MB per core at 100 million events) cannot spill
with_removed as (
    select
        merged.*,
        removed.user_id as removed_user_id,
        removed.first_start as removed_first_start,
        removed.sessions as removed_sessions,
        removed.events as removed_events,
        removed.page_views as removed_page_views,
        removed.conversions as removed_conversions
    from removed
    right join merged on merged.user_id = removed.user_id
),

with_kept_last as (
    select
        with_removed.*,
        kept_last.last_end as kept_last_end
    from kept_last
    right join with_removed on with_removed.user_id = kept_last.user_id
),

combined as (
    select
        user_id,
        case
            when removed_first_start is null
                or prior_first_seen_at < removed_first_start
                then coalesce(prior_first_seen_at, added_first_start)
            else added_first_start
        end as first_seen_at,
        case
            when added_last_end is not null then added_last_end
            when removed_user_id is null then prior_last_seen_at
            else coalesce(kept_last_end, prior_last_seen_at)
        end as last_seen_at,
        coalesce(prior_sessions, 0) - coalesce(removed_sessions, 0)
            + coalesce(added_sessions, 0) as session_count,
        coalesce(prior_events, 0) - coalesce(removed_events, 0)
            + coalesce(added_events, 0) as event_count,
        coalesce(prior_page_views, 0) - coalesce(removed_page_views, 0)
            + coalesce(added_page_views, 0) as page_view_count,
        coalesce(prior_conversions, 0) - coalesce(removed_conversions, 0)
            + coalesce(added_conversions, 0) as conversion_count
    from with_kept_last
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
