-- traffic_channels: the channel of every (source, medium, campaign) seen this run.
-- Grain: one row per distinct (source, medium, campaign) of session_sources.
-- Inputs: session_sources, source_categories (GA4's list, or the user's), channel_rules (the
--         user's rules from [channels], tried first, in order).
-- Google's default channel group (Analytics help, answer 9756891), in order, first match
-- wins; values are compared lower-case.

with

traffic as (
    select distinct source, medium, campaign from session_sources
),

-- step 1: the source's category (search, social, shopping, video), if listed
categorised as (
    select
        traffic.*,
        lower(traffic.medium) as m,
        lower(traffic.campaign) as c,
        categories.source_category as category
    from traffic
    left join (
        select source, min(source_category) as source_category
        from source_categories
        group by source
    ) as categories on traffic.source = categories.source
),

-- step 2: the user's first matching rule, if any
ruled as (
    select
        categorised.source,
        categorised.medium,
        categorised.campaign,
        first_value(channel_rules.channel order by channel_rules.rule_order) as rule_channel
    from categorised
    join channel_rules
        on (channel_rules.source is null or channel_rules.source = categorised.source)
        and (channel_rules.medium is null or channel_rules.medium = categorised.m)
        and (channel_rules.campaign is null or channel_rules.campaign = categorised.c)
    group by categorised.source, categorised.medium, categorised.campaign
),

-- step 3: GA4's rules
grouped as (
    select
        categorised.*,
        regexp_like(m, '^(.*cp.*|ppc|retargeting|paid.*)$') as is_paid,
        regexp_like(c, '^(.*(([^a-df-z]|^)shop|shopping).*)$') as is_shopping_campaign
    from categorised
),

final as (
    select
        grouped.source,
        grouped.medium,
        grouped.campaign,
        coalesce(ruled.rule_channel, case
            when grouped.source = '(direct)' and m in ('(none)', '(not set)') then 'Direct'
            when c like '%cross-network%' then 'Cross-network'
            when (category = 'SOURCE_CATEGORY_SHOPPING' or is_shopping_campaign) and is_paid
                then 'Paid Shopping'
            when category = 'SOURCE_CATEGORY_SEARCH' and is_paid then 'Paid Search'
            when category = 'SOURCE_CATEGORY_SOCIAL' and is_paid then 'Paid Social'
            when category = 'SOURCE_CATEGORY_VIDEO' and is_paid then 'Paid Video'
            when m in ('display', 'banner', 'expandable', 'interstitial', 'cpm') then 'Display'
            when is_paid then 'Paid Other'
            when category = 'SOURCE_CATEGORY_SHOPPING' or is_shopping_campaign
                then 'Organic Shopping'
            when category = 'SOURCE_CATEGORY_SOCIAL'
                or m in ('social', 'social-network', 'social-media', 'sm', 'social network',
                    'social media')
                then 'Organic Social'
            when category = 'SOURCE_CATEGORY_VIDEO' or m like '%video%' then 'Organic Video'
            when category = 'SOURCE_CATEGORY_SEARCH' or m = 'organic' then 'Organic Search'
            when m in ('referral', 'app', 'link') then 'Referral'
            when regexp_like(grouped.source, '^(email|e-mail|e_mail|e mail)$')
                or regexp_like(m, '^(email|e-mail|e_mail|e mail)$') then 'Email'
            when m = 'affiliate' then 'Affiliates'
            when m = 'audio' then 'Audio'
            when grouped.source = 'sms' or m = 'sms' then 'SMS'
            when m like '%push' or m like '%mobile%' or m like '%notification%'
                or grouped.source = 'firebase'
                then 'Mobile Push Notifications'
            else 'Unassigned'
        end) as channel
    from grouped
    left join ruled
        on grouped.source = ruled.source
        and grouped.medium = ruled.medium
        and grouped.campaign = ruled.campaign
)

select * from final
