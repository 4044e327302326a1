-- One row per post (guid): where and when it was published, its tags and
-- sender, and its lifetime metrics by the network's "Calculated Post
-- Metrics", as of metrics_refreshed_at. Rates are null where the network has
-- no such formula or the denominator is 0; the rate per follower divides by
-- the profile's followers on the day the post was published.
with

posts as (
    select * from int_post_metrics_unified
),

profiles as (
    select * from int_profiles
),

post_tags as (
    select * from stg_sprout__post_tags
),

tags as (
    select * from stg_sprout__tags
),

users as (
    select * from stg_sprout__users
),

profile_days as (
    select * from int_profile_days
),

tag_lists as (
    select
        post_tags.post_id,
        count(*) as tags_count,
        string_agg(
            cast(post_tags.tag_id as varchar), ','
            order by post_tags.tag_id nulls first
        ) as tag_ids,
        string_agg(
            tags.tag_name, ', ' order by tags.tag_name nulls first
        ) as tag_names
    from post_tags
    left join tags
        on post_tags.tag_id = tags.tag_id
    group by post_tags.post_id
),

joined as (
    select
        posts.post_id,
        posts.customer_id,
        posts.customer_profile_id,
        profiles.profile_name,
        posts.network,
        posts.post_type,
        posts.post_category,
        posts.content_category,
        posts.created_at,
        posts.created_date,
        posts.post_text,
        posts.permalink,
        tag_lists.tag_ids,
        tag_lists.tag_names,
        coalesce(tag_lists.tags_count, 0) as tags_count,
        posts.sent_by_user_id,
        coalesce(
            users.user_name,
            nullif(
                trim(
                    coalesce(posts.sent_by_first_name, '')
                    || ' '
                    || coalesce(posts.sent_by_last_name, '')
                ),
                ''
            )
        ) as sent_by_user_name,
        posts.impressions,
        posts.reach,
        posts.video_views,
        posts.engagements,
        posts.reactions,
        posts.likes,
        posts.comments_count,
        posts.shares_count,
        posts.saves,
        posts.clicks,
        posts.link_clicks,
        posts.metrics_refreshed_at,
        profile_days.followers_count as profile_followers_count
    from posts
    left join profiles
        on posts.customer_profile_id = profiles.customer_profile_id
    left join tag_lists
        on posts.post_id = tag_lists.post_id
    left join users
        on posts.sent_by_user_id = users.user_id
    left join profile_days
        on
            posts.customer_profile_id = profile_days.customer_profile_id
            and posts.created_date = profile_days.reporting_date
),

final as (
    select
        *,
        case
            when
                network in (
                    'TWITTER',
                    'FACEBOOK',
                    'INSTAGRAM',
                    'LINKEDIN',
                    'THREADS',
                    'TIKTOK'
                )
                then cast(engagements as double) / nullif(impressions, 0)
        end as engagement_rate_per_impression,
        case
            when network in ('TWITTER', 'FACEBOOK', 'INSTAGRAM', 'LINKEDIN')
                then
                    cast(engagements as double)
                    / nullif(profile_followers_count, 0)
        end as engagement_rate_per_follower,
        case
            when network in ('FACEBOOK', 'INSTAGRAM', 'LINKEDIN')
                then cast(engagements as double) / nullif(reach, 0)
        end as engagement_rate_per_reach,
        case
            when network = 'YOUTUBE'
                then cast(engagements as double) / nullif(video_views, 0)
        end as engagements_per_video_view,
        cast(link_clicks as double)
        / nullif(impressions, 0) as click_through_rate,
        cast(
            extract(epoch from (metrics_refreshed_at - created_at)) as double
        )
        / 3600 as post_age_at_refresh_hours
    from joined
)

select * from final
