-- duckdb_sessions.sql: the sessionize job written for DuckDB, the baseline `make bench`
-- times sessionize against. It reads the same Parquet events and writes the same tables
-- (sessions and the four metrics tables, Parquet partitioned by dt, zstd) by the same rules
-- as the models in sql/ and the README: same dedupe, same session rule, same columns.
--
-- bench/bench.py fills in the placeholders before it runs the statements in order:
--   {{ input_glob }}  the generated events, e.g. bench/.work/events-.../**/*.parquet
--   {{ output_dir }}  an empty directory; each table goes to <output_dir>/<table>/dt=…/
--   {{ timeout_us }}  the inactivity timeout in microseconds (30 minutes: 1800000000)
--   {{ channels_dir }} sessionize's data/channels: the source aliases and GA4's source
--                      categories it has built in
--
-- Written for the generated events (`sessionize generate`): they have no utm_* columns, so,
-- as sessionize does then, UTM values come from the first event's URL query string.
-- The default settings are mirrored: a gap equal to the timeout stays in the session,
-- page views are event_name = 'page_view', conversions 'purchase', days in UTC.

set timezone = 'UTC';

-- statement 0: the lists attribution is normalised with, as sessionize has them built in
-- (a pattern may hold a comma, as in {2,3}: the source is what follows the last one)
create or replace temp table source_aliases as
select
    regexp_extract(line, '^(.*),([^,]*)$', 1) as pattern,
    regexp_extract(line, '^(.*),([^,]*)$', 2) as source,
    row_number() over () as alias_order
from read_csv(
    '{{ channels_dir }}/source_aliases.csv',
    header = true, delim = '\t', quote = '', columns = {'line': 'varchar'}
);

-- (sources lower-cased, as sessionize loads them)
create or replace temp table search_engines as
select distinct lower(source) as source
from read_csv(
    '{{ channels_dir }}/ga4_source_categories.csv', header = true, delim = ',', all_varchar = true
)
where source_category = 'SOURCE_CATEGORY_SEARCH';

-- statement 1: one row per session, kept in memory for the metrics and written out
create or replace temp table sessions as

with

-- the input, with the columns the job uses
events as (
    select
        event_id,
        user_id,
        event_time,
        event_name,
        page_url,
        referrer,
        device,
        user_agent,
        country,
        revenue
    from read_parquet('{{ input_glob }}', hive_partitioning = false)
),

-- the event's identity: its event_id, else a digest of the row (identical rows share it)
keyed as (
    select
        *,
        coalesce(
            event_id,
            md5(concat_ws(
                chr(31),
                coalesce(user_id, chr(30)),
                coalesce(cast(event_time as varchar), chr(30)),
                coalesce(event_name, chr(30)),
                coalesce(page_url, chr(30)),
                coalesce(referrer, chr(30)),
                coalesce(device, chr(30)),
                coalesce(user_agent, chr(30)),
                coalesce(country, chr(30)),
                coalesce(cast(revenue as varchar), chr(30))
            ))
        ) as event_key
    from events
),

-- rows that can be sessionized: a user (not empty, spaces trimmed) and a time
valid_events as (
    select
        *,
        coalesce(event_name = 'page_view', false) as is_page_view,
        coalesce(event_name = 'purchase', false) as is_conversion
    from keyed
    where user_id is not null
        and trim(user_id) <> ''
        and event_time is not null
),

-- keys seen more than once
repeated_keys as (
    select event_key
    from valid_events
    group by event_key
    having count(*) > 1
),

-- the common case: a key seen once is kept as it is
single_events as (
    select valid_events.*
    from valid_events
    anti join repeated_keys using (event_key)
),

-- the copies of a repeated key: the earliest wins, the other columns breaking ties
first_copies as (
    select valid_events.*
    from valid_events
    semi join repeated_keys using (event_key)
    qualify row_number() over (
        partition by event_key
        order by
            event_time, user_id, event_name, page_url, referrer, device, user_agent,
            country, revenue
    ) = 1
),

deduplicated as (
    select * from single_events
    union all
    select * from first_copies
),

-- the user's previous event, and each event's position in the user's history; both windows
-- order by (event_time, event_key), a total order, so ties are broken as sessionize does
previous_events as (
    select
        *,
        lag(event_time) over user_history as previous_event_at,
        row_number() over user_history as event_position
    from deduplicated
    window user_history as (partition by user_id order by event_time, event_key)
),

-- a session starts at the user's first event and after a gap longer than the timeout,
-- compared in whole microseconds (a gap equal to the timeout stays in the session)
session_starts as (
    select
        *,
        previous_event_at is null
            or epoch_us(event_time) - epoch_us(previous_event_at) > {{ timeout_us }}
            as is_session_start
    from previous_events
),

-- the running count of session starts is the user's session number
numbered as (
    select
        *,
        count(*) filter (where is_session_start) over (
            partition by user_id
            order by event_time, event_key
            rows between unbounded preceding and current row
        ) as session_number
    from session_starts
),

-- one row per session; first and last values by event_position (the event order)
collapsed as (
    select
        user_id,
        session_number,
        min(event_time) as session_start,
        max(event_time) as session_end,
        count(*) as event_count,
        count(*) filter (where is_page_view) as page_view_count,
        arg_min_null(page_url, event_position) filter (where is_page_view) as landing_url,
        arg_max_null(page_url, event_position) filter (where is_page_view) as exit_url,
        arg_min_null(page_url, event_position) as first_event_url,
        arg_min_null(referrer, event_position) as referrer,
        arg_min_null(device, event_position) filter (where device is not null) as device,
        arg_min_null(country, event_position) filter (where country is not null) as country,
        count(*) filter (where is_conversion) as conversion_count,
        coalesce(sum(revenue), 0.0) as revenue
    from numbered
    group by user_id, session_number
),

-- the URL parts attribution needs: hosts, UTM values of the first URL, page paths
url_parts as (
    select
        *,
        case
            when regexp_matches(referrer, '^([A-Za-z][A-Za-z0-9+.-]*:)?//[^/?#]')
                then lower(regexp_extract(
                    referrer, '^([A-Za-z][A-Za-z0-9+.-]*:)?//([^/?#@]*@)?([^/?#:]*)', 3
                ))
        end as referrer_host,
        case
            when regexp_matches(first_event_url, '^([A-Za-z][A-Za-z0-9+.-]*:)?//[^/?#]')
                then lower(regexp_extract(
                    first_event_url, '^([A-Za-z][A-Za-z0-9+.-]*:)?//([^/?#@]*@)?([^/?#:]*)', 3
                ))
        end as first_event_host,
        nullif(regexp_extract(first_event_url, '^[^?#]*\?([^#]*&)?utm_source=([^&#]*)', 2), '')
            as utm_source,
        nullif(regexp_extract(first_event_url, '^[^?#]*\?([^#]*&)?utm_medium=([^&#]*)', 2), '')
            as utm_medium,
        nullif(regexp_extract(first_event_url, '^[^?#]*\?([^#]*&)?utm_campaign=([^&#]*)', 2), '')
            as utm_campaign,
        -- a page path: no scheme, host, query or fragment; an empty path is '/'
        case
            when landing_url is not null then coalesce(nullif(regexp_extract(
                landing_url, '^(([A-Za-z][A-Za-z0-9+.-]*:)?//[^/?#]*)?([^?#]*)', 3
            ), ''), '/')
        end as landing_page,
        case
            when exit_url is not null then coalesce(nullif(regexp_extract(
                exit_url, '^(([A-Za-z][A-Za-z0-9+.-]*:)?//[^/?#]*)?([^?#]*)', 3
            ), ''), '/')
        end as exit_page
    from collapsed
),

-- GA4-style attribution: UTM first, then an external referrer, else direct
attributed as (
    select
        *,
        coalesce(utm_source, utm_medium, utm_campaign) is not null as has_utm,
        referrer_host is not null
            and referrer_host <> coalesce(first_event_host, '') as has_external_referrer,
        -- the ad network whose click id the landing URL carries
        case
            when regexp_matches(first_event_url, '[?&](gclid|gbraid|wbraid|dclid)=') then 'google'
            when regexp_matches(first_event_url, '[?&]msclkid=') then 'bing'
            when regexp_matches(first_event_url, '[?&]fbclid=') then 'facebook'
        end as click_source
    from url_parts
),

-- the attribution as it came (sessions.sql)
raw_attribution as (
    select
        *,
        case
            when has_utm then coalesce(utm_source, '(not set)')
            when has_external_referrer then referrer_host
            else '(direct)'
        end as raw_source,
        case
            when has_utm then coalesce(utm_medium, '(not set)')
            when has_external_referrer then 'referral'
            else '(none)'
        end as raw_medium,
        case
            when has_utm then coalesce(utm_campaign, '(not set)')
            when has_external_referrer then '(referral)'
            else '(direct)'
        end as raw_campaign
    from attributed
),

-- normalised as session_sources.sql does: trimmed and lower-cased, a click id where there
-- is no UTM, one name per source from the alias list (the first pattern in file order), a
-- referral from a search engine as organic search
clicked as (
    select
        *,
        case
            when not has_utm and click_source is not null then click_source
            else lower(trim(raw_source))
        end as plain_source,
        case
            when not has_utm and click_source in ('google', 'bing') then 'cpc'
            when not has_utm and click_source = 'facebook' then 'referral'
            else lower(trim(raw_medium))
        end as plain_medium,
        trim(raw_campaign) as clean_campaign
    from raw_attribution
),

aliased as (
    select
        distinct_sources.plain_source,
        arg_min(source_aliases.source, source_aliases.alias_order) as alias
    from (select distinct plain_source from clicked) as distinct_sources
    join source_aliases on regexp_matches(distinct_sources.plain_source, source_aliases.pattern)
    group by distinct_sources.plain_source
),

normalised as (
    select
        clicked.*,
        coalesce(aliased.alias, clicked.plain_source) as clean_source,
        not clicked.has_utm and clicked.plain_medium = 'referral'
            and coalesce(aliased.alias, clicked.plain_source) in (select source from search_engines)
            as is_organic_search
    from clicked
    left join aliased on clicked.plain_source = aliased.plain_source
),

final as (
    select
        md5(concat(user_id, chr(31), cast(epoch_us(session_start) as varchar))) as session_id,
        user_id,
        session_number,
        session_start,
        session_end,
        (epoch_us(session_end) - epoch_us(session_start)) / 1000000.0 as duration_s,
        event_count,
        page_view_count,
        landing_page,
        exit_page,
        referrer,
        clean_source as source,
        case when is_organic_search then 'organic' else plain_medium end as medium,
        case when is_organic_search then '(organic)' else clean_campaign end as campaign,
        device,
        country,
        page_view_count <= 1 as is_bounce,
        epoch_us(session_end) - epoch_us(session_start) >= 10000000
            or page_view_count >= 2
            or conversion_count > 0 as is_engaged,
        conversion_count,
        revenue,
        session_number = 1 as is_new_user,
        -- the UTC day the session started (the connection's time zone is UTC)
        cast(cast(session_start as date) as varchar) as dt
    from normalised
)

select * from final;

-- statement 2
copy sessions to '{{ output_dir }}/sessions'
    (format parquet, compression zstd, partition_by (dt));

-- statement 3: the measures of every metrics table, in one pass over the sessions
create or replace temp table metrics_base as

with

session_rows as (
    select
        dt,
        coalesce(source, '(not set)') as source,
        coalesce(medium, '(not set)') as medium,
        coalesce(device, '(not set)') as device,
        -- a session without a page view has no landing page
        coalesce(landing_page, '(not set)') as landing_page,
        user_id,
        is_new_user,
        page_view_count,
        event_count,
        duration_s,
        is_bounce,
        is_engaged,
        conversion_count,
        revenue
    from sessions
),

-- sums per day and per dimension value (DuckDB sums integers to int128: cast back)
totals as (
    select
        dt,
        source,
        medium,
        device,
        landing_page,
        count(*) as sessions,
        count(distinct user_id) as users,
        count(*) filter (where is_new_user) as new_users,
        cast(sum(page_view_count) as bigint) as page_views,
        cast(sum(event_count) as bigint) as events,
        sum(duration_s) as total_duration_s,
        count(*) filter (where is_bounce) as bounces,
        count(*) filter (where is_engaged) as engaged_sessions,
        cast(sum(conversion_count) as bigint) as conversions,
        count(*) filter (where conversion_count > 0) as converted_sessions,
        sum(revenue) as revenue
    from session_rows
    group by grouping sets ((dt), (dt, source, medium), (dt, device), (dt, landing_page))
),

-- rates from the sums, never averaged
final as (
    select
        case
            when source is not null then 'source'
            when device is not null then 'device'
            when landing_page is not null then 'landing_page'
            else 'daily'
        end as grouping_set,
        dt,
        source,
        medium,
        device,
        landing_page,
        sessions,
        users,
        new_users,
        page_views,
        events,
        total_duration_s,
        bounces,
        engaged_sessions,
        conversions,
        converted_sessions,
        revenue,
        cast(bounces as double) / sessions as bounce_rate,
        cast(engaged_sessions as double) / sessions as engagement_rate,
        cast(converted_sessions as double) / sessions as conversion_rate,
        total_duration_s / sessions as avg_session_duration_s,
        cast(page_views as double) / sessions as pages_per_session
    from totals
)

select * from final;

-- statements 4 to 7: one metrics table per grouping set
copy (
    select * exclude (grouping_set, source, medium, device, landing_page)
    from metrics_base
    where grouping_set = 'daily'
) to '{{ output_dir }}/metrics_daily' (format parquet, compression zstd, partition_by (dt));

copy (
    select * exclude (grouping_set, device, landing_page)
    from metrics_base
    where grouping_set = 'source'
) to '{{ output_dir }}/metrics_by_source' (format parquet, compression zstd, partition_by (dt));

copy (
    select * exclude (grouping_set, source, medium, landing_page)
    from metrics_base
    where grouping_set = 'device'
) to '{{ output_dir }}/metrics_by_device' (format parquet, compression zstd, partition_by (dt));

copy (
    select * exclude (grouping_set, source, medium, device)
    from metrics_base
    where grouping_set = 'landing_page'
) to '{{ output_dir }}/metrics_by_landing_page'
    (format parquet, compression zstd, partition_by (dt));
