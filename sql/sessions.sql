-- sessions: one row per session.
-- Grain: one row per (user_id, session_number).
-- Inputs: sessionized_events (with each page view's page_path), sessions_before.
-- Parameters: $engagement_threshold_us (GA4: 10 s).
-- Leaves the raw attribution (source, medium, campaign) and the internal columns has_utm,
-- click_source, user_agent and page_paths to session_sources and classified_sessions, which
-- normalise them.
-- Timestamps arrive in the reporting time zone (so `dt` is the local day the session
-- started) and leave as UTC microseconds, which every BI reader accepts.
-- session_number counts the user's sessions over their whole history, across runs.

with

events as (
    select * from sessionized_events
),

-- step 1: collapse each session, taking first and last values in event order: first_by and
-- last_by (src/ordered_values.rs) are first_value and last_value ordered by event_seq, at a
-- fraction of the engine's cost for ordered text values
collapsed as (
    select
        user_bucket,
        user_id,
        session_index,
        min(event_time) as session_start,
        max(event_time) as session_end,
        count(*) as event_count,
        count(*) filter (where is_page_view) as page_view_count,
        first_by(page_path, event_seq)
            filter (where is_page_view) as landing_page,
        last_by(page_path, event_seq)
            filter (where is_page_view) as exit_page,
        -- every page viewed, for the exit rates; in no order, as only counts are read (an
        -- ordered array_agg costs a third more time on the whole run)
        array_agg(page_path) filter (where is_page_view) as page_paths,
        first_by(user_agent, event_seq)
            filter (where user_agent is not null) as user_agent,
        first_by(page_url, event_seq) as first_event_url,
        first_by(referrer, event_seq) as referrer,
        first_by(utm_source, event_seq) as first_utm_source,
        first_by(utm_medium, event_seq) as first_utm_medium,
        first_by(utm_campaign, event_seq) as first_utm_campaign,
        first_by(device, event_seq)
            filter (where device is not null) as device,
        first_by(country, event_seq)
            filter (where country is not null) as country,
        count(*) filter (where is_conversion) as conversion_count,
        -- summed as decimals: a float sum depends on the order rows arrive in
        cast(coalesce(sum(cast(revenue as decimal(38, 9))), 0) as double) as revenue
    from events
    -- the bucket too, though the user decides it: the events arrive ordered by bucket and
    -- user, and grouping by both lets the engine finish each user's sessions as the next
    -- user begins, rather than hold every session to the end
    group by user_bucket, user_id, session_index
),

-- step 2: numbered on from the user's history (a dated run's sessions that start after its
-- days are kept here, to be counted as other days' rows, and dropped by classified_sessions)
numbered as (
    select
        collapsed.* exclude (user_bucket, session_index),
        coalesce(sessions_before.sessions_before, 0) + collapsed.session_index
            as session_number
    -- the users on the left, as there are fewer of them than sessions: a join's hash table
    -- is built from its left side
    from sessions_before
    right join collapsed on collapsed.user_id = sessions_before.user_id
),

-- step 3: the URL parts attribution needs (url_host, url_parameter: src/url_functions.rs);
-- UTM columns win over the landing URL's query. Only a UTM value that is there is trimmed:
-- most sessions have none, and nullif's comparison cost 0.25 s per column over the NULLs of
-- 2.6M sessions (DataFusion 55), where the CASE skips them
url_parts as (
    select
        *,
        url_host(referrer) as referrer_host,
        url_host(first_event_url) as first_event_host,
        coalesce(
            case when first_utm_source is not null then nullif(trim(first_utm_source), '') end,
            url_parameter(first_event_url, 'utm_source')
        ) as utm_source,
        coalesce(
            case when first_utm_medium is not null then nullif(trim(first_utm_medium), '') end,
            url_parameter(first_event_url, 'utm_medium')
        ) as utm_medium,
        coalesce(
            case when first_utm_campaign is not null then nullif(trim(first_utm_campaign), '') end,
            url_parameter(first_event_url, 'utm_campaign')
        ) as utm_campaign
    from numbered
),

-- step 4: source / medium / campaign, GA4-style: UTM first, then an external referrer,
-- else direct
attributed as (
    select
        *,
        -- three validity tests, not a coalesce, which would copy the texts to test them
        utm_source is not null or utm_medium is not null or utm_campaign is not null as has_utm,
        referrer_host is not null
            and referrer_host <> coalesce(first_event_host, '') as has_external_referrer
    from url_parts
),

final as (
    select
        -- md5(concat(user_id, chr(31), cast(<start in µs> as varchar))) in hex, written
        -- straight into text (src/text_columns.rs): an id users keep, so never to change
        session_id(user_id, arrow_cast(session_start, 'Int64')) as session_id,
        user_id,
        session_number,
        arrow_cast(session_start, 'Timestamp(µs, "UTC")') as session_start,
        arrow_cast(session_end, 'Timestamp(µs, "UTC")') as session_end,
        cast(arrow_cast(session_end, 'Int64') - arrow_cast(session_start, 'Int64') as double)
            / 1000000.0 as duration_s,
        event_count,
        page_view_count,
        landing_page,
        exit_page,
        referrer,
        case
            when has_utm then coalesce(utm_source, '(not set)')
            when has_external_referrer then referrer_host
            else '(direct)'
        end as source,
        case
            when has_utm then coalesce(utm_medium, '(not set)')
            when has_external_referrer then 'referral'
            else '(none)'
        end as medium,
        case
            when has_utm then coalesce(utm_campaign, '(not set)')
            when has_external_referrer then '(referral)'
            else '(direct)'
        end as campaign,
        device,
        country,
        page_view_count <= 1 as is_bounce,
        cast(arrow_cast(session_end, 'Int64') - arrow_cast(session_start, 'Int64') as double)
            >= cast($engagement_threshold_us as double)
            or page_view_count >= 2
            or conversion_count > 0 as is_engaged,
        conversion_count,
        revenue,
        session_number = 1 as is_new_user,
        -- cast(… as varchar), each distinct day formatted once (src/text_columns.rs)
        day_text(local_day(session_start)) as dt,
        -- internal: for session_sources and classified_sessions
        has_utm,
        -- the ad network whose click id the landing URL carries, which speaks where there is
        -- no UTM (worked out here, once per session, so that session_sources normalises the
        -- attribution once per distinct value rather than once per session)
        -- every click id ends in 'id=': a URL without that (most) skips the three regexes
        case
            when has_utm or strpos(first_event_url, 'id=') = 0 then null
            when regexp_like(first_event_url, '[?&](gclid|gbraid|wbraid|dclid)=') then 'google'
            when regexp_like(first_event_url, '[?&]msclkid=') then 'bing'
            when regexp_like(first_event_url, '[?&]fbclid=') then 'facebook'
        end as click_source,
        user_agent,
        page_paths
    from attributed
)

select * from final
