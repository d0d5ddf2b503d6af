-- session_sources: each raw attribution the run's sessions carry, as marketers read it.
-- Grain: one row per distinct (raw_source, raw_medium, raw_campaign, has_utm, click_source)
--        of the sessions; classified_sessions brings the result back to every session.
-- Inputs: sessions (materialised by the pipeline: raw attribution, UTM, else the referrer's
--         host, else direct; the click id of the landing URL where there is no UTM),
--         source_aliases (data/channels/source_aliases.csv), source_categories (GA4's list).
-- Normalises what real UTM data looks like: case and whitespace; aliases (fb,
-- m.facebook.com → facebook; www.google.co.uk → google); click ids on the landing URL when
-- there is no UTM (gclid → google / cpc, msclkid → bing / cpc, fbclid → facebook); a referral
-- from a search engine is organic search.
-- Worked out once per distinct attribution, and kept (materialised) by the pipeline: a site
-- has far fewer of them than sessions, and traffic_channels and classified_sessions both
-- read them. The sessions of a dated run's later days are left out by classified_sessions
-- alone: their attributions here are a few harmless extra rows.

with

raw as (
    select distinct
        source as raw_source,
        medium as raw_medium,
        campaign as raw_campaign,
        has_utm,
        click_source
    from sessions
),

-- step 1: trimmed and lower-cased, as GA4 compares them; a click id speaks where no UTM does
-- (sessions has one only then)
clicked as (
    select
        *,
        coalesce(click_source, lower(trim(raw_source))) as plain_source,
        case
            when click_source in ('google', 'bing') then 'cpc'
            when click_source = 'facebook' then 'referral'
            else lower(trim(raw_medium))
        end as plain_medium,
        trim(raw_campaign) as clean_campaign
    from raw
),

-- step 2: one name per source, from the alias list (first pattern in file order wins)
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
    from aliased
    right join clicked on clicked.plain_source = aliased.plain_source
),

-- step 3: a referral from a search engine is organic search, as GA4 reports it
final as (
    select
        named.raw_source,
        named.raw_medium,
        named.raw_campaign,
        named.has_utm,
        named.click_source,
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
