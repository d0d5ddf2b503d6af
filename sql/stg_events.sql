-- stg_events: one row per input row.
-- Grain: the input as read, nothing removed.
-- Inputs: input_events (the input files, mapped to canonical columns and types by Rust).
-- Parameters: $has_event_name (false when the data has no event_name: every event is a view),
--             $event_id_complete (true when every row has an event_id),
--             $page_view_events and $conversion_events (the lists from [sessions], as lists
--             of text: the engine turns array_has on a list it knows into comparisons with
--             each name, far cheaper than a join, which copies every column of every row),
--             $earliest_event_us and $latest_event_us (the plausible range of event_time),
--             $max_string_bytes (longer strings make a row unusable; cast where it is
--             compared, as the length of a column read as a dictionary is a dictionary of
--             lengths, and the engine would infer two types for the one parameter),
--             $run_day (the day of rows that have no plausible time nor a dt= folder).
-- Adds event_key (the event's identity), event_day (its day in the reporting time zone),
-- row_day (the day the row is counted on: its event_day when its time is plausible, else the
-- dt= folder it was delivered in, else the run's day), is_late (delivered under a later dt=
-- folder than its day), reject_reason (NULL when the row can be sessionized), is_page_view
-- and is_conversion.
-- The days are dates (input_day too), not text: a date is one integer to make and compare,
-- where text cost a formatted string per row on every scan of the input; only the few rows
-- of a table's output are turned into text.

with

events as (
    select * from input_events
),

-- the event_id when there is one, else a digest of the whole row: identical rows without an
-- id then share a key (and count once), and every event has a tie-breaker for ordering.
-- When every row has an event_id ($event_id_complete, from the files' statistics), the
-- digest is left out of the plan, and a query that needs only the key reads only the id
-- (repeated_keys), not every column the digest would read
keyed as (
    select
        *,
        case when $event_id_complete then event_id else coalesce(
            event_id,
            -- md5 returns Utf8View, which slows the big sort down: keep plain Utf8
            cast(md5(concat_ws(
                chr(31),
                coalesce(user_id, chr(30)),
                coalesce(cast(event_time as varchar), chr(30)),
                coalesce(event_name, chr(30)),
                coalesce(page_url, chr(30)),
                coalesce(referrer, chr(30)),
                coalesce(utm_source, chr(30)),
                coalesce(utm_medium, chr(30)),
                coalesce(utm_campaign, chr(30)),
                coalesce(device, chr(30)),
                coalesce(user_agent, chr(30)),
                coalesce(country, chr(30)),
                coalesce(cast(revenue as varchar), chr(30))
            )) as varchar)
        ) end as event_key
    from events
),

-- the checks, as one cheap boolean: nearly every row passes them all, and skips the CASE that
-- names the failure (a CASE copies the columns it reads for the rows left after each branch
-- that matches, so with the checks on its outside, only the few failing rows are copied)
checked as (
    select
        keyed.*,
        keyed.has_event_time
            and keyed.event_time is not null
            and arrow_cast(keyed.event_time, 'Int64') >= $earliest_event_us
            and arrow_cast(keyed.event_time, 'Int64') <= $latest_event_us
            as has_plausible_time,
        keyed.user_id is not null
            -- trim(user_id) <> '' (the engine trims spaces only), trimming only the rows
            -- that start with a space: the engine evaluates an OR's right side only for
            -- the rows its left leaves false, where trimming every row copied every user_id
            -- on each of the three scans that check the rows (0.2 s of CPU at 10 million)
            and (
                (keyed.user_id <> '' and not coalesce(starts_with(keyed.user_id, ' '), false))
                or trim(keyed.user_id) <> ''
            )
            and octet_length(keyed.user_id) <= cast($max_string_bytes as int)
            and (
                keyed.event_id is null
                or octet_length(keyed.event_id) <= cast($max_string_bytes as int)
            )
            and (
                keyed.event_name is null
                or octet_length(keyed.event_name) <= cast($max_string_bytes as int)
            )
            and (
                keyed.page_url is null
                or octet_length(keyed.page_url) <= cast($max_string_bytes as int)
            )
            and (
                keyed.referrer is null
                or octet_length(keyed.referrer) <= cast($max_string_bytes as int)
            )
            and (
                keyed.utm_source is null
                or octet_length(keyed.utm_source) <= cast($max_string_bytes as int)
            )
            and (
                keyed.utm_medium is null
                or octet_length(keyed.utm_medium) <= cast($max_string_bytes as int)
            )
            and (
                keyed.utm_campaign is null
                or octet_length(keyed.utm_campaign) <= cast($max_string_bytes as int)
            )
            and (
                keyed.device is null
                or octet_length(keyed.device) <= cast($max_string_bytes as int)
            )
            and (
                keyed.user_agent is null
                or octet_length(keyed.user_agent) <= cast($max_string_bytes as int)
            )
            and (
                keyed.country is null
                or octet_length(keyed.country) <= cast($max_string_bytes as int)
            )
            as passes_string_checks
    from keyed
),

-- why a row cannot be placed in a session, if it cannot (the first check it fails). The
-- checks here and in `checked` are the same list and must stay so: a check missing here
-- shows as the catch-all reason below, rather than letting a failing row through.
classified as (
    select
        checked.* exclude (passes_string_checks),
        case when not (checked.has_plausible_time and checked.passes_string_checks) then
            case
                when checked.user_id is null then 'missing user_id'
                when trim(checked.user_id) = '' then 'empty user_id'
                when not checked.has_event_time then 'missing event_time'
                when checked.event_time is null then 'unparsable event_time'
                when arrow_cast(checked.event_time, 'Int64') < $earliest_event_us
                    then 'event_time before earliest_event_time'
                when arrow_cast(checked.event_time, 'Int64') > $latest_event_us
                    then 'event_time in the future'
                when octet_length(checked.user_id) > cast($max_string_bytes as int)
                    then 'user_id too long'
                when octet_length(checked.event_id) > cast($max_string_bytes as int)
                    then 'event_id too long'
                when octet_length(checked.event_name) > cast($max_string_bytes as int)
                    then 'event_name too long'
                when octet_length(checked.page_url) > cast($max_string_bytes as int)
                    then 'page_url too long'
                when octet_length(checked.referrer) > cast($max_string_bytes as int)
                    then 'referrer too long'
                when octet_length(checked.utm_source) > cast($max_string_bytes as int)
                    then 'utm_source too long'
                when octet_length(checked.utm_medium) > cast($max_string_bytes as int)
                    then 'utm_medium too long'
                when octet_length(checked.utm_campaign) > cast($max_string_bytes as int)
                    then 'utm_campaign too long'
                when octet_length(checked.device) > cast($max_string_bytes as int)
                    then 'device too long'
                when octet_length(checked.user_agent) > cast($max_string_bytes as int)
                    then 'user_agent too long'
                when octet_length(checked.country) > cast($max_string_bytes as int)
                    then 'country too long'
                else 'failed a row check'
            end
        end as reject_reason,
        local_day(checked.event_time) as event_day,
        (not $has_event_name)
            or coalesce(array_has($page_view_events, checked.event_name), false) as is_page_view,
        coalesce(array_has($conversion_events, checked.event_name), false) as is_conversion
    from checked
),

-- a row whose time is missing or implausible is counted on the day it was delivered for
final as (
    select
        * exclude (has_plausible_time),
        case
            when has_plausible_time then event_day
            else coalesce(input_day, cast($run_day as date))
        end as row_day,
        coalesce(event_day < input_day, false) as is_late
    from classified
)

select * from final
