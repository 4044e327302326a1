-- One row per Sprout user (team member) of a customer.
with

source as (
    select * from users
),

renamed as (
    select
        cast(id as bigint) as user_id,
        cast(customer_id as bigint) as customer_id,
        cast(name as varchar) as user_name
    from source
)

select * from renamed
