-- sessionized_events: the events this run sessionizes, each with its session's index and
-- its place in the user's events (event_seq).
-- Grain: one row per event_key.
-- Inputs: events_deduplicated, session_anchors, page_paths.
-- Parameters: $timeout_us (the inactivity timeout in microseconds),
--             $max_duration_us (a session is split once it would last this long; 0: never),
--             $new_session_on_equal_gap (true: a gap exactly equal to the timeout starts a
--             new session, as in Beam; false: it does not, as in Spark, Flink and Segment),
--             $days_start_us and $read_end_us (this run's days start, and where the events
--             read to complete their last sessions end; unbounded for a full run),
--             $split_at_midnight and $split_on_campaign (the `universal` preset: Universal
--             Analytics also started a session at midnight in the reporting time zone and
--             when an event brought another campaign or source).
-- A user's events start at the session an earlier run may have left open (session_anchors),
-- else at the start of this run's days: the first event read is always a session's first,
-- so `session_index` (1, 2, … per user) needs nothing from before it.
-- Every window orders each user's events by (event_time, event_key): a total order, so the
-- result does not depend on input order, file order or thread count. The windows are
-- partitioned by a bucket of users (hash_bucket), not by user, and ordered by user first:
-- the engine's bookkeeping per window partition cost more than the pass itself with one
-- user per partition (src/session_window.rs).

with

events as (
    select * from events_deduplicated
),

-- step 1: the events of this run's sessions, from each user's resume point on, each page
-- view with its page (the small tables on the left of the right joins: DataFusion builds a
-- join's hash table from its left side)
anchored as (
    select
        events.*,
        arrow_cast(session_anchors.anchor_start, 'Int64') as anchor_us
    from session_anchors
    right join events on events.user_id = session_anchors.user_id
),

in_window as (
    select
        anchored.* exclude (anchor_us),
        case when anchored.is_page_view then page_paths.page_path end as page_path,
        hash_bucket(anchored.user_id) as user_bucket
    from page_paths
    right join anchored on anchored.page_url = page_paths.page_url
    where arrow_cast(anchored.event_time, 'Int64') >= coalesce(anchored.anchor_us, $days_start_us)
        and arrow_cast(anchored.event_time, 'Int64') < $read_end_us
),

-- step 2 (universal preset only): does this event open a session whatever the gap? At a
-- new day in the reporting time zone (a campaign other than the session's is decided by
-- session_place, as it depends on where the session started)
forced_starts as (
    select
        *,
        -- (at a user's first row, lag reads the user before in the bucket: harmless, as
        -- session_index opens a session at each user's first row anyway)
        $split_at_midnight and event_day <> lag(event_day) over user_events as is_forced_start
    from in_window
    window user_events as (partition by user_bucket order by user_id, event_time, event_key)
),

-- step 3: one pass in event order per user: a new session after the timeout, once the
-- session would reach the maximum duration, at a forced start, or with a campaign other
-- than the session's. session_place (src/session_window.rs) gives two numbers packed in one,
-- the session_index and the event's place in its bucket's events (as row_number would), which
-- place_session_index and place_event_seq unpack: a second window function cost as much
-- again in the engine's per-row bookkeeping.
-- Its arguments are worked out here, after the sort, rather than carried through it as
-- columns: the time in microseconds, and the campaign an event brings (universal preset
-- only: its UTM values, else another site as referrer; NULL for an event that brings none)
placed as (
    select
        * exclude (is_forced_start),
        session_place(
            user_id,
            arrow_cast(event_time, 'Int64'),
            $timeout_us,
            $max_duration_us,
            $new_session_on_equal_gap,
            coalesce(is_forced_start, false),
            case when $split_on_campaign then
                case
                    when coalesce(utm_source, utm_medium, utm_campaign) is not null
                        then concat_ws(chr(31), utm_source, utm_medium, utm_campaign)
                    when page_url like '%utm\_%' then concat_ws(
                        chr(31),
                        coalesce(url_parameter(page_url, 'utm_source'), ''),
                        coalesce(url_parameter(page_url, 'utm_medium'), ''),
                        coalesce(url_parameter(page_url, 'utm_campaign'), '')
                    )
                    when url_host(referrer) <> coalesce(url_host(page_url), '')
                        then url_host(referrer)
                end
            end
        ) over user_events as session_place
    from forced_starts
    window user_events as (partition by user_bucket order by user_id, event_time, event_key)
),

-- the event's place in its bucket's events is also its place in its user's: the sessions
-- aggregate orders its first and last values by this one integer (event_seq), as cheap to
-- compare as (event_time, event_key) is dear (a timestamp and a string, per row and per
-- value)
indexed as (
    select
        * exclude (session_place),
        place_session_index(session_place) as session_index,
        place_event_seq(session_place) as event_seq
    from placed
),

final as (
    select * from indexed
)

select * from final
