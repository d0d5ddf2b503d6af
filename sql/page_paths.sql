-- page_paths: the page of each URL viewed.
-- Grain: one row per distinct page_url of a page view.
-- Inputs: stg_events.
-- Parameters: $strip_trailing_slash, $lowercase_pages, $keep_query and $kept_query_pattern
--             (how a URL becomes a page: the query parameters named in the pattern, an
--             alternation, are kept in URL order).
-- A page is the URL's path (no scheme, host, query or fragment; empty is '/'), normalised as
-- [landing_pages] says. Worked out once per distinct URL: a site has far fewer pages than
-- views, and these regular expressions cost more than the join that brings the result back
-- (in sessionized_events, before the sort, so the sessions are still grouped in the order
-- the sort left them). A URL seen only in rows of other days, in copies or in rejected rows
-- is a harmless extra row.

with

-- every row's, rejected or not: the row checks read every column of every row, and a URL
-- of a rejected row is only a harmless extra row, while the checks would decode ten more
-- string columns of every event for this one
viewed_urls as (
    select distinct page_url
    from stg_events
    where is_page_view and page_url is not null
),

page_parts as (
    select
        page_url,
        coalesce(nullif(regexp_replace(
            case when $lowercase_pages then lower(page_url) else page_url end,
            case
                when $strip_trailing_slash
                    then '^(([A-Za-z][A-Za-z0-9+.-]*:)?//[^/?#]*)?([^?#]*?)/*([?#].*)?$'
                else '^(([A-Za-z][A-Za-z0-9+.-]*:)?//[^/?#]*)?([^?#]*)(.*)$'
            end,
            '\3'
        ), ''), '/') as bare_path,
        -- each kept pair becomes '&pair', every other pair '&'; then the '&'s are collapsed
        case when $keep_query and page_url like '%?%' then
            trim(both '&' from regexp_replace(
                regexp_replace(
                    regexp_replace(page_url, '^[^?#]*\?([^#]*).*$|^.*$', '\1'),
                    concat('&?((?:', $kept_query_pattern, ')=[^&]*)|&?[^&]+'),
                    '&\1',
                    'g'
                ),
                '&+', '&', 'g'
            ))
        end as kept_query
    from viewed_urls
),

-- page_path as plain text: the regular expression functions give string views, which would
-- then be carried through the sessions sort (slower to sort and copy than text)
pages as (
    select
        page_url,
        cast(
            case
                when coalesce(kept_query, '') = '' then bare_path
                else concat(bare_path, '?', kept_query)
            end as varchar
        ) as page_path
    from page_parts
)

select * from pages
