-- One row per customer profile and reporting day (the network's own day, in
-- its reporting time zone): every day with profile metrics or a published
-- post. Followers are the last snapshot on or before the day; rates follow the
-- network's "Calculated Profile Metrics" and are null where it has none.
with

profile_days as (
    select * from int_profile_days
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
        posts_published_count,
        case
            when network in ('TWITTER', 'FACEBOOK', 'INSTAGRAM', 'LINKEDIN')
                then cast(engagements as double) / nullif(followers_count, 0)
        end as engagement_rate_per_follower,
        cast(engagements as double)
        / nullif(impressions, 0) as engagement_rate_per_impression,
        cast(link_clicks as double)
        / nullif(impressions, 0) as click_through_rate
    from profile_days
)

select * from final
