-- One row per post (guid), with its created date in the network's reporting
-- time zone and its lifetime metrics mapped to one shape by the "Calculated
-- Post Metrics" formulas of the reference (12-metrics-and-fields.md). A metric
-- a network does not define is null; inside a formula, a component the API
-- left out counts as 0. Instagram reports story replies under
-- lifetime.comments_count, so its comments already hold them.
with

posts as (
    select * from stg_sprout__posts
),

networks as (
    select * from int_network_time_zones
),

localised as (
    select
        posts.*,
        cast(
            posts.created_at
            at time zone coalesce(networks.reporting_time_zone, 'UTC')
            as date
        ) as created_date
    from posts
    left join networks
        on posts.network = networks.network
),

unified as (
    select
        post_id,
        customer_id,
        customer_profile_id,
        network,
        post_type,
        post_category,
        content_category,
        created_at,
        created_date,
        post_text,
        permalink,
        sent_by_user_id,
        sent_by_first_name,
        sent_by_last_name,
        metrics_refreshed_at,
        case
            when
                network in (
                    'TWITTER', 'FACEBOOK', 'INSTAGRAM', 'LINKEDIN', 'THREADS'
                )
                then impressions
        end as impressions,
        case
            when network in ('FACEBOOK', 'INSTAGRAM', 'LINKEDIN', 'TIKTOK')
                then impressions_unique
        end as reach,
        case
            when
                network in (
                    'TWITTER',
                    'FACEBOOK',
                    'INSTAGRAM',
                    'LINKEDIN',
                    'YOUTUBE',
                    'TIKTOK'
                )
                then video_views
        end as video_views,
        case
            when network = 'YOUTUBE'
                then coalesce(likes, 0) + coalesce(dislikes, 0)
            when network != 'PINTEREST' then reactions
        end as reactions,
        case
            when network not in ('LINKEDIN', 'PINTEREST') then likes
        end as likes,
        comments_count,
        case
            when network = 'BLUESKY'
                then coalesce(reposts_count, 0) + coalesce(quotes_count, 0)
            when network != 'PINTEREST' then shares_count
        end as shares_count,
        case
            when network in ('INSTAGRAM', 'PINTEREST') then saves
        end as saves,
        case
            when network in ('TWITTER', 'FACEBOOK', 'LINKEDIN')
                then post_content_clicks
            when network = 'YOUTUBE'
                then
                    coalesce(annotation_clicks, 0) + coalesce(card_clicks, 0)
        end as clicks,
        case
            when network in ('TWITTER', 'FACEBOOK') then post_link_clicks
        end as link_clicks,
        case
            when network = 'TWITTER'
                then
                    coalesce(likes, 0)
                    + coalesce(comments_count, 0)
                    + coalesce(shares_count, 0)
                    + coalesce(post_link_clicks, 0)
                    + coalesce(post_content_clicks_other, 0)
                    + coalesce(engagements_other, 0)
            when network = 'FACEBOOK'
                then
                    coalesce(reactions, 0)
                    + coalesce(comments_count, 0)
                    + coalesce(shares_count, 0)
                    + coalesce(post_link_clicks, 0)
                    + coalesce(post_content_clicks_other, 0)
            when network = 'INSTAGRAM'
                then
                    coalesce(likes, 0)
                    + coalesce(comments_count, 0)
                    + coalesce(shares_count, 0)
                    + coalesce(saves, 0)
            when network = 'LINKEDIN'
                then
                    coalesce(reactions, 0)
                    + coalesce(comments_count, 0)
                    + coalesce(shares_count, 0)
                    + coalesce(post_content_clicks, 0)
            when network = 'YOUTUBE'
                then
                    coalesce(comments_count, 0)
                    + coalesce(likes, 0)
                    + coalesce(dislikes, 0)
                    + coalesce(shares_count, 0)
                    + coalesce(subscribers_gained, 0)
                    + coalesce(annotation_clicks, 0)
                    + coalesce(card_clicks, 0)
            when network = 'THREADS'
                then
                    coalesce(reactions, 0)
                    + coalesce(comments_count, 0)
                    + coalesce(shares_count, 0)
            when network = 'TIKTOK'
                then
                    coalesce(likes, 0)
                    + coalesce(comments_count, 0)
                    + coalesce(shares_count, 0)
            when network = 'BLUESKY'
                then
                    coalesce(comments_count, 0)
                    + coalesce(reactions, 0)
                    + coalesce(reposts_count, 0)
                    + coalesce(quotes_count, 0)
        end as engagements
    from localised
)

select * from unified
