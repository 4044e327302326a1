-- One row per social network: how profiles name it (network_type), how posts
-- and messages name it (network), and the time zone in which the network
-- buckets its daily profile metrics (the reference's "Profile Time Zone"
-- table). Threads is not in that table and follows Facebook, its Meta
-- sibling; Bluesky follows UTC. Kept equal to sources/sprout/catalogue.py by
-- tests/transforms/test_models.py.
with

networks as (
    select
        network_rows.network_type,
        network_rows.network,
        network_rows.reporting_time_zone
    from (
        values
        ('twitter', 'TWITTER', 'UTC'),
        ('facebook', 'FACEBOOK', 'America/Los_Angeles'),
        ('fb_instagram_account', 'INSTAGRAM', 'America/Los_Angeles'),
        ('linkedin_company', 'LINKEDIN', 'UTC'),
        ('youtube', 'YOUTUBE', 'America/Los_Angeles'),
        ('pinterest', 'PINTEREST', 'UTC'),
        ('threads', 'THREADS', 'America/Los_Angeles'),
        ('tiktok', 'TIKTOK', 'UTC'),
        ('bluesky', 'BLUESKY', 'UTC')
    ) as network_rows (network_type, network, reporting_time_zone)
)

select * from networks
