-- One row per listening topic, UTC day, network and sentiment.
-- Listening metrics arrive as floats; they are counts. Sentiment labels are
-- normalised to lower case, a missing label counting as unclassified.
with

source as (
    select * from topic_metrics_daily
),

renamed as (
    select
        cast(topic_id as varchar) as topic_id,
        cast(metric_date as date) as metric_date,
        cast(upper(network) as varchar) as network,
        cast(
            coalesce(nullif(lower(trim(sentiment)), ''), 'unclassified')
            as varchar
        ) as sentiment,
        cast(customer_id as bigint) as customer_id,
        cast(messages_count as bigint) as messages_count,
        cast(engagements as bigint) as engagements,
        cast(likes as bigint) as likes,
        cast(replies as bigint) as replies,
        cast(shares_count as bigint) as shares_count,
        cast(impressions as bigint) as potential_impressions,
        cast(authors_count as bigint) as authors_count
    from source
)

select * from renamed
