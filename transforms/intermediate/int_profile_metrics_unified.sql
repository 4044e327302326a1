-- One row per customer profile and reporting day, with each network's metrics
-- mapped to one shape by the "Calculated Profile Metrics" formulas of the
-- reference (12-metrics-and-fields.md). A metric a network does not define is
-- null; inside a formula, a component the API left out of a day counts as 0.
with

metrics as (
    select * from stg_sprout__profile_metrics_daily
),

networks as (
    select * from int_network_time_zones
),

with_network as (
    select
        metrics.*,
        coalesce(networks.network, upper(metrics.network_type)) as network
    from metrics
    left join networks
        on metrics.network_type = networks.network_type
),

unified as (
    select
        customer_profile_id,
        reporting_date,
        customer_id,
        network_type,
        network,
        followers_count as followers_snapshot_count,
        case
            when network in ('YOUTUBE', 'PINTEREST')
                then
                    coalesce(followers_gained, 0)
                    - coalesce(followers_lost, 0)
            when
                network in (
                    'TWITTER', 'FACEBOOK', 'INSTAGRAM', 'LINKEDIN', 'TIKTOK'
                )
                then net_follower_growth
        end as net_follower_growth,
        case
            when network in ('TWITTER', 'FACEBOOK', 'INSTAGRAM', 'LINKEDIN')
                then impressions
        end as impressions,
        case
            when network in ('FACEBOOK', 'INSTAGRAM', 'LINKEDIN')
                then impressions_unique
        end as reach,
        case
            when network in ('TWITTER', 'FACEBOOK', 'INSTAGRAM')
                then video_views
            when network = 'TIKTOK' then video_views_total
        end as video_views,
        case
            when network in ('TWITTER', 'FACEBOOK', 'INSTAGRAM', 'LINKEDIN')
                then reactions
        end as reactions,
        case
            when network in ('TWITTER', 'INSTAGRAM', 'THREADS') then likes
            when network = 'TIKTOK' then likes_total
        end as likes,
        case
            when
                network in (
                    'TWITTER', 'FACEBOOK', 'INSTAGRAM', 'LINKEDIN', 'THREADS'
                )
                then comments_count
            when network = 'TIKTOK' then comments_count_total
        end as comments_count,
        case
            when network in ('TWITTER', 'FACEBOOK', 'INSTAGRAM', 'LINKEDIN')
                then shares_count
            when network = 'THREADS'
                then coalesce(reposts_count, 0) + coalesce(quotes_count, 0)
            when network = 'TIKTOK' then shares_count_total
        end as shares_count,
        case
            when network in ('TWITTER', 'LINKEDIN') then post_content_clicks
            when network = 'FACEBOOK'
                then
                    coalesce(post_link_clicks, 0)
                    + coalesce(post_content_clicks_other, 0)
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
                    + coalesce(story_replies, 0)
            when network = 'LINKEDIN'
                then
                    coalesce(reactions, 0)
                    + coalesce(comments_count, 0)
                    + coalesce(shares_count, 0)
                    + coalesce(post_content_clicks, 0)
            when network = 'THREADS'
                then
                    coalesce(likes, 0)
                    + coalesce(comments_count, 0)
                    + coalesce(reposts_count, 0)
                    + coalesce(quotes_count, 0)
            when network = 'TIKTOK'
                then
                    coalesce(likes_total, 0)
                    + coalesce(comments_count_total, 0)
                    + coalesce(shares_count_total, 0)
        end as engagements
    from with_network
)

select * from unified
