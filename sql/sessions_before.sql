-- sessions_before: per user, how many of their sessions precede this run's first one.
-- Grain: one row per user the earlier runs know of.
-- Inputs: session_anchors, prior_users (the users table as earlier runs left it),
--         prior_session_bounds.
-- Parameters: $first_day.
-- session_number counts the user's whole history: this run numbers its sessions on from
-- here. With an anchor, the sessions before it; otherwise every session the users table
-- counts, less those of this run's days that this run computes again.

with

recomputed as (
    select user_id, count(*) as sessions
    from prior_session_bounds
    where dt >= $first_day
    group by user_id
),

final as (
    select
        prior_users.user_id,
        coalesce(
            session_anchors.anchor_number - 1,
            prior_users.session_count - coalesce(recomputed.sessions, 0)
        ) as sessions_before
    from prior_users
    left join session_anchors on prior_users.user_id = session_anchors.user_id
    left join recomputed on prior_users.user_id = recomputed.user_id
)

select * from final
