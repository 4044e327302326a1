-- One row per listening topic.
with

source as (
    select * from topics
),

renamed as (
    select
        cast(id as varchar) as topic_id,
        cast(customer_id as bigint) as customer_id,
        cast(name as varchar) as topic_name,
        cast(topic_type as varchar) as topic_type
    from source
)

select * from renamed
