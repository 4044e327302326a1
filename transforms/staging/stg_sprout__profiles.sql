-- One row per customer profile (a connected social network account).
with

source as (
    select * from profiles
),

renamed as (
    select
        cast(customer_profile_id as bigint) as customer_profile_id,
        cast(customer_id as bigint) as customer_id,
        cast(lower(network_type) as varchar) as network_type,
        cast(name as varchar) as profile_name,
        cast(native_name as varchar) as native_name,
        cast(native_id as varchar) as native_id
    from source
)

select * from renamed
