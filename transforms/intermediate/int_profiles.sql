-- One row per customer profile, with its network and reporting time zone.
-- A network missing from int_network_time_zones reports in UTC.
with

profiles as (
    select * from stg_sprout__profiles
),

networks as (
    select * from int_network_time_zones
),

joined as (
    select
        profiles.customer_profile_id,
        profiles.customer_id,
        profiles.network_type,
        profiles.profile_name,
        profiles.native_name,
        coalesce(networks.network, upper(profiles.network_type)) as network,
        coalesce(networks.reporting_time_zone, 'UTC') as reporting_time_zone
    from profiles
    left join networks
        on profiles.network_type = networks.network_type
)

select * from joined
