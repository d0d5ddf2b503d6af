-- metrics_by_exit_page: where sessions end, and how often a page is the last one seen.
-- Grain: one row per (dt, exit_page).
-- Inputs: agent_sessions (with each session's page views, page_paths, and bot flag).
-- Parameters: $include_bots, $first_day and $last_day (this run's days: a dated run that
--             extends a session an earlier run left open leaves that earlier day's exit pages
--             as they were, as its page views are not in the sessions table).
-- exits: sessions whose last page view was the page; page_views: views of the page in the
-- sessions of that day (a session's views count on the day it started, like every metric);
-- exit_rate = exits / page_views, from the sums.

with

included as (
    select dt, exit_page, page_paths
    from agent_sessions
    where (not is_bot or $include_bots) and exit_page is not null
        and dt between $first_day and $last_day
),

exits as (
    select dt, exit_page, count(*) as exits
    from included
    group by dt, exit_page
),

views as (
    select dt, page, count(*) as page_views
    from (select dt, unnest(page_paths) as page from included)
    group by dt, page
),

final as (
    select
        exits.dt,
        exits.exit_page,
        exits.exits,
        views.page_views,
        cast(exits.exits as double) / views.page_views as exit_rate
    from exits
    join views on exits.dt = views.dt and exits.exit_page = views.page
)

select * from final
