-- session_sources: sessions with their traffic source as marketers read it.
-- Grain: one row per session.
-- Inputs: sessions (held in memory by the pipeline: raw attribution, UTM, else the
--         referrer's host, else direct),
--         source_aliases (data/channels/source_aliases.csv), source_categories (GA4's list).
-- Normalises what real UTM data looks like: case and whitespace; aliases (fb,
-- m.facebook.com → facebook; www.google.co.uk → google); click ids on the landing URL when
-- there is no UTM (gclid → google / cpc, msclkid → bing / cpc, fbclid → facebook); a referral
-- from a search engine is organic search.
-- Parameters: $days_end_us (sessions that start after a dated run's days belong to a later
--             run, and are left out here).

with

raw as (
    select * from sessions
    where arrow_cast(session_start, 'Int64') < $days_end_us
),

-- step 1: trimmed and lower-cased, as GA4 compares them
trimmed as (
    select
        *,
        lower(trim(source)) as raw_source,
        lower(trim(medium)) as raw_medium,
        trim(campaign) as clean_campaign,
        case
            when regexp_like(first_event_url, '[?&](gclid|gbraid|wbraid|dclid)=') then 'google'
            when regexp_like(first_event_url, '[?&]msclkid=') then 'bing'
            when regexp_like(first_event_url, '[?&]fbclid=') then 'facebook'
        end as click_source
    from raw
),

-- step 2: a click id speaks where no UTM does
clicked as (
    select
        * exclude (raw_source, raw_medium),
        case when not has_utm and click_source is not null then click_source else raw_source end
            as plain_source,
        case
            when not has_utm and click_source in ('google', 'bing') then 'cpc'
            when not has_utm and click_source = 'facebook' then 'referral'
            else raw_medium
        end as plain_medium
    from trimmed
),

-- step 3: one name per source, from the alias list (first pattern in file order wins)
distinct_sources as (
    select distinct plain_source from clicked
),

aliased as (
    select
        distinct_sources.plain_source,
        first_value(source_aliases.source order by source_aliases.alias_order) as alias
    from distinct_sources
    join source_aliases on regexp_like(distinct_sources.plain_source, source_aliases.pattern)
    group by distinct_sources.plain_source
),

named as (
    select
        clicked.*,
        coalesce(aliased.alias, clicked.plain_source) as clean_source
    -- the few sources on the left: DataFusion builds a join's hash table from its left side
    from aliased
    right join clicked on clicked.plain_source = aliased.plain_source
),

-- step 4: a referral from a search engine is organic search, as GA4 reports it
final as (
    select
        named.* exclude (source, medium, campaign, plain_source, plain_medium, click_source,
            clean_source, clean_campaign),
        named.clean_source as source,
        case
            when not named.has_utm and named.plain_medium = 'referral'
                and search_engines.source is not null then 'organic'
            else named.plain_medium
        end as medium,
        case
            when not named.has_utm and named.plain_medium = 'referral'
                and search_engines.source is not null then '(organic)'
            else named.clean_campaign
        end as campaign
    from (
        select distinct source from source_categories
        where source_category = 'SOURCE_CATEGORY_SEARCH'
    ) as search_engines
    right join named on named.clean_source = search_engines.source
)

select * from final
