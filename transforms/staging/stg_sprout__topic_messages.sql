-- One row per listening topic and message (guid).
-- Sentiment labels are normalised as in stg_sprout__topic_metrics_daily.
with

source as (
    select * from topic_messages
),

renamed as (
    select
        cast(topic_id as varchar) as topic_id,
        cast(guid as varchar) as message_id,
        cast(customer_id as bigint) as customer_id,
        cast(upper(network) as varchar) as network,
        cast(created_time as timestamptz) as created_at,
        cast(
            coalesce(nullif(lower(trim(sentiment)), ''), 'unclassified')
            as varchar
        ) as sentiment,
        cast(language as varchar) as language_code
    from source
)

select * from renamed
