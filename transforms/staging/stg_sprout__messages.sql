-- One row per inbox message (guid).
-- Sprout records the first reply in activity_metadata; a column is null when
-- no message loaded so far carried it.
with

source as (
    select * from messages
),

renamed as (
    select
        cast(guid as varchar) as message_id,
        cast(customer_id as bigint) as customer_id,
        cast(customer_profile_id as bigint) as customer_profile_id,
        cast(group_id as bigint) as group_id,
        cast(upper(network) as varchar) as network,
        cast(post_type as varchar) as post_type,
        cast(created_time as timestamptz) as created_at,
        cast(from__guid as varchar) as from_guid,
        cast(profile_guid as varchar) as profile_guid,
        cast(internal__sent_by__id as bigint) as sent_by_user_id,
        cast(
            activity_metadata__first_reply__action_time as timestamptz
        ) as first_replied_at,
        cast(case_id as varchar) as case_id
    from source
)

select * from renamed
