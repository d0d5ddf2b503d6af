-- metrics_by_exit_page: where sessions end, and how often a page is the last one seen.
-- Grain: one row per (dt, exit_page).
-- Inputs: agent_sessions (with each session's page views, page_paths, and bot flag).
-- Parameters: $include_bots, $first_day and $last_day (this run's days: a dated run that
--             extends a session an earlier run left open leaves that earlier day's exit pages
--             as they were, as its page views are not in the sessions table), $all_days (a
--             full run, whose days are all days: the range test, text compared on every
--             session of both reads below, is then left out of the plan).
-- exits: sessions whose last page view was the page; page_views: views of the page in the
-- sessions of that day (a session's views count on the day it started, like every metric);
-- exit_rate = exits / page_views, from the sums.

with

included as (
    select dt, exit_page, page_paths
    from agent_sessions
    where (not is_bot or $include_bots)
        and ($all_days or dt between $first_day and $last_day)
),

-- each session's exit, and each of its page views, as a row of its page, all counted by one
-- aggregate: every exit page is one of its session's page views, so the pages with an exit
-- are the ones to report. (Two aggregates joined, the way this reads most plainly, built the
-- join's side on one core: 0.9 to 1.05 s, where this takes 0.6 to 0.7 s, at ten million
-- events.)
-- A session without page views has neither an exit page nor page views: the exits leave it
-- out, and its page views are none (or one NULL page, without exits, so not reported). Not
-- filtered out before the page views, where a filter copies every session's list of pages
-- (0.26 s of CPU at ten million events) to drop the few without any.
pages as (
    select dt, exit_page as page, true as is_exit
    from included
    where exit_page is not null
    union all
    select dt, unnest(page_paths) as page, false as is_exit
    from included
),

-- counts, not sums: never NULL, as the columns are declared
counts as (
    select
        dt,
        page,
        count(*) filter (where is_exit) as exits,
        count(*) filter (where not is_exit) as page_views
    from pages
    group by dt, page
),

final as (
    select
        dt,
        page as exit_page,
        exits,
        page_views,
        cast(exits as double) / page_views as exit_rate
    from counts
    where exits > 0
)

select * from final
