-- One row per customer profile and reporting day (the network's own day, in
-- its reporting time zone): every day with profile metrics or a published
-- post, with the unified metrics, the posts published and the followers as of
-- the day (the last snapshot on or before it, carried over days without one).
with

profiles as (
    select * from int_profiles
),

metrics as (
    select * from int_profile_metrics_unified
),

posts as (
    select * from int_post_metrics_unified
),

posts_per_day as (
    select
        customer_profile_id,
        created_date as reporting_date,
        count(*) as posts_published_count
    from posts
    group by customer_profile_id, created_date
),

profile_days as (
    select
        customer_profile_id,
        reporting_date
    from metrics
    union
    select
        customer_profile_id,
        reporting_date
    from posts_per_day
),

joined as (
    select
        profile_days.customer_profile_id,
        profile_days.reporting_date,
        coalesce(profiles.customer_id, metrics.customer_id) as customer_id,
        coalesce(profiles.network_type, metrics.network_type) as network_type,
        coalesce(profiles.network, metrics.network) as network,
        profiles.profile_name,
        metrics.followers_snapshot_count,
        metrics.net_follower_growth,
        metrics.impressions,
        metrics.reach,
        metrics.video_views,
        metrics.reactions,
        metrics.likes,
        metrics.comments_count,
        metrics.shares_count,
        metrics.clicks,
        metrics.link_clicks,
        metrics.engagements,
        coalesce(posts_per_day.posts_published_count, 0)
            as posts_published_count,
        count(metrics.followers_snapshot_count) over (
            partition by profile_days.customer_profile_id
            order by profile_days.reporting_date nulls first
            rows between unbounded preceding and current row
        ) as followers_snapshot_number
    from profile_days
    left join profiles
        on profile_days.customer_profile_id = profiles.customer_profile_id
    left join metrics
        on
            profile_days.customer_profile_id = metrics.customer_profile_id
            and profile_days.reporting_date = metrics.reporting_date
    left join posts_per_day
        on
            profile_days.customer_profile_id
            = posts_per_day.customer_profile_id
            and profile_days.reporting_date = posts_per_day.reporting_date
),

carried_forward as (
    select
        *,
        max(followers_snapshot_count) over (
            partition by customer_profile_id, followers_snapshot_number
        ) as followers_count
    from joined
),

final as (
    select
        customer_profile_id,
        reporting_date,
        customer_id,
        network_type,
        network,
        profile_name,
        followers_count,
        net_follower_growth,
        impressions,
        reach,
        video_views,
        engagements,
        reactions,
        likes,
        comments_count,
        shares_count,
        clicks,
        link_clicks,
        posts_published_count
    from carried_forward
)

select * from final
