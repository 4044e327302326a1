-- One row per customer profile and day (in the network's reporting time zone,
-- as in daily_profile_performance) with inbox messages. A message counts as
-- sent when its author is the profile itself (from.guid equals profile_guid)
-- or a team member sent it through Sprout, otherwise as received. Reply
-- figures cover received messages and need activity_metadata's first reply.
with

messages as (
    select * from stg_sprout__messages
),

message_tags as (
    select * from stg_sprout__message_tags
),

profiles as (
    select * from int_profiles
),

networks as (
    select * from int_network_time_zones
),

tagged_messages as (
    select distinct message_id from message_tags
),

classified as (
    select
        messages.message_id,
        messages.customer_id,
        messages.customer_profile_id,
        messages.first_replied_at,
        cast(
            messages.created_at
            at time zone coalesce(
                profiles.reporting_time_zone,
                networks.reporting_time_zone,
                'UTC'
            )
            as date
        ) as activity_date,
        coalesce(messages.from_guid = messages.profile_guid, false)
        or messages.sent_by_user_id is not null as is_sent,
        tagged_messages.message_id is not null as has_tags,
        cast(
            extract(
                epoch from (messages.first_replied_at - messages.created_at)
            ) as double
        ) as first_reply_seconds
    from messages
    left join profiles
        on messages.customer_profile_id = profiles.customer_profile_id
    left join networks
        on messages.network = networks.network
    left join tagged_messages
        on messages.message_id = tagged_messages.message_id
),

final as (
    select
        customer_profile_id,
        activity_date,
        max(customer_id) as customer_id,
        count(*) filter (where not is_sent) as messages_received_count,
        count(*) filter (where is_sent) as messages_sent_count,
        count(*) filter (
            where not is_sent and first_replied_at is not null
        ) as messages_replied_count,
        count(*) filter (where has_tags) as messages_tagged_count,
        avg(first_reply_seconds) filter (
            where not is_sent
        ) as avg_first_reply_seconds,
        max(first_reply_seconds) filter (
            where not is_sent
        ) as max_first_reply_seconds
    from classified
    group by customer_profile_id, activity_date
)

select * from final
