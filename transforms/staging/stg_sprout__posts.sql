-- One row per owned post (guid), with its lifetime metrics as last refreshed.
-- Only the metrics that the marts use; a metric the network does not report
-- (or that was never loaded) is null here.
with

source as (
    select * from posts
),

renamed as (
    select
        cast(guid as varchar) as post_id,
        cast(customer_id as bigint) as customer_id,
        cast(customer_profile_id as bigint) as customer_profile_id,
        cast(upper(network) as varchar) as network,
        cast(post_type as varchar) as post_type,
        cast(post_category as varchar) as post_category,
        cast(content_category as varchar) as content_category,
        cast(created_time as timestamptz) as created_at,
        cast(text as varchar) as post_text,
        cast(perma_link as varchar) as permalink,
        cast(internal__sent_by__id as bigint) as sent_by_user_id,
        cast(internal__sent_by__first_name as varchar) as sent_by_first_name,
        cast(internal__sent_by__last_name as varchar) as sent_by_last_name,
        cast(metrics_refreshed_at as timestamptz) as metrics_refreshed_at,
        cast(lifetime_impressions as bigint) as impressions,
        cast(lifetime_impressions_unique as bigint) as impressions_unique,
        cast(lifetime_video_views as bigint) as video_views,
        cast(lifetime_reactions as bigint) as reactions,
        cast(lifetime_likes as bigint) as likes,
        cast(lifetime_dislikes as bigint) as dislikes,
        cast(lifetime_comments_count as bigint) as comments_count,
        cast(lifetime_shares_count as bigint) as shares_count,
        cast(lifetime_reposts_count as bigint) as reposts_count,
        cast(lifetime_quotes_count as bigint) as quotes_count,
        cast(lifetime_saves as bigint) as saves,
        cast(lifetime_post_content_clicks as bigint) as post_content_clicks,
        cast(lifetime_post_link_clicks as bigint) as post_link_clicks,
        cast(
            lifetime_post_content_clicks_other as bigint
        ) as post_content_clicks_other,
        cast(lifetime_engagements_other as bigint) as engagements_other,
        cast(lifetime_subscribers_gained as bigint) as subscribers_gained,
        cast(lifetime_annotation_clicks as bigint) as annotation_clicks,
        cast(lifetime_card_clicks as bigint) as card_clicks
    from source
)

select * from renamed
