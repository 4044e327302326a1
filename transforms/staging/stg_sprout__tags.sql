-- One row per message tag.
with

source as (
    select * from tags
),

renamed as (
    select
        cast(tag_id as bigint) as tag_id,
        cast(customer_id as bigint) as customer_id,
        cast(text as varchar) as tag_name,
        cast(type as varchar) as tag_type,
        cast(active as boolean) as is_active
    from source
)

select * from renamed
