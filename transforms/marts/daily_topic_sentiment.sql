-- One row per listening topic, UTC day, network and sentiment (lower case:
-- positive, neutral, negative, unclassified), with the topic's totals for the
-- day across networks and its net sentiment score, so that BI tools need no
-- further SQL.
with

metrics as (
    select * from stg_sprout__topic_metrics_daily
),

topics as (
    select * from stg_sprout__topics
),

by_sentiment as (
    select
        topic_id,
        metric_date,
        network,
        sentiment,
        max(customer_id) as customer_id,
        cast(sum(messages_count) as bigint) as messages_count,
        cast(sum(engagements) as bigint) as engagements,
        cast(sum(likes) as bigint) as likes,
        cast(sum(replies) as bigint) as replies,
        cast(sum(shares_count) as bigint) as shares_count,
        cast(sum(potential_impressions) as bigint) as potential_impressions,
        cast(sum(authors_count) as bigint) as authors_count
    from metrics
    group by topic_id, metric_date, network, sentiment
),

with_topic_day as (
    select
        *,
        cast(sum(messages_count) over (
            partition by topic_id, metric_date
        ) as bigint) as topic_messages_count,
        cast(sum(
            case when sentiment = 'positive' then messages_count else 0 end
        ) over (
            partition by topic_id, metric_date
        ) as bigint) as topic_positive_messages_count,
        cast(sum(
            case when sentiment = 'negative' then messages_count else 0 end
        ) over (
            partition by topic_id, metric_date
        ) as bigint) as topic_negative_messages_count
    from by_sentiment
),

final as (
    select
        with_topic_day.topic_id,
        with_topic_day.metric_date,
        with_topic_day.network,
        with_topic_day.sentiment,
        topics.topic_name,
        coalesce(with_topic_day.customer_id, topics.customer_id)
            as customer_id,
        with_topic_day.messages_count,
        with_topic_day.engagements,
        with_topic_day.likes,
        with_topic_day.replies,
        with_topic_day.shares_count,
        with_topic_day.potential_impressions,
        with_topic_day.authors_count,
        with_topic_day.topic_messages_count,
        with_topic_day.topic_positive_messages_count,
        with_topic_day.topic_negative_messages_count,
        cast(
            with_topic_day.topic_positive_messages_count
            - with_topic_day.topic_negative_messages_count as double
        )
        / nullif(
            with_topic_day.topic_positive_messages_count
            + with_topic_day.topic_negative_messages_count,
            0
        ) as net_sentiment_score
    from with_topic_day
    left join topics
        on with_topic_day.topic_id = topics.topic_id
)

select * from final
