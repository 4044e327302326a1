-- One row per customer profile and reporting day (the network's own day).
-- Only the metrics that the marts use; a metric the network does not report
-- (or that was never loaded) is null here.
with

source as (
    select * from profile_metrics_daily
),

renamed as (
    select
        cast(customer_profile_id as bigint) as customer_profile_id,
        cast(reporting_date as date) as reporting_date,
        cast(customer_id as bigint) as customer_id,
        cast(lower(network_type) as varchar) as network_type,
        cast(lifetime_snapshot_followers_count as bigint) as followers_count,
        cast(net_follower_growth as bigint) as net_follower_growth,
        cast(followers_gained as bigint) as followers_gained,
        cast(followers_lost as bigint) as followers_lost,
        cast(impressions as bigint) as impressions,
        cast(impressions_unique as bigint) as impressions_unique,
        cast(video_views as bigint) as video_views,
        cast(video_views_total as bigint) as video_views_total,
        cast(reactions as bigint) as reactions,
        cast(likes as bigint) as likes,
        cast(likes_total as bigint) as likes_total,
        cast(comments_count as bigint) as comments_count,
        cast(comments_count_total as bigint) as comments_count_total,
        cast(shares_count as bigint) as shares_count,
        cast(shares_count_total as bigint) as shares_count_total,
        cast(reposts_count as bigint) as reposts_count,
        cast(quotes_count as bigint) as quotes_count,
        cast(saves as bigint) as saves,
        cast(story_replies as bigint) as story_replies,
        cast(post_content_clicks as bigint) as post_content_clicks,
        cast(post_link_clicks as bigint) as post_link_clicks,
        cast(post_content_clicks_other as bigint) as post_content_clicks_other,
        cast(engagements_other as bigint) as engagements_other,
        cast(posts_sent_count as bigint) as posts_sent_count
    from source
)

select * from renamed
