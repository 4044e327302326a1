-- One row per post and tag: the post's tag ids unnested by dlt into a child
-- table, joined back to the post's guid.
with

tag_ids as (
    select * from posts__tag_ids
),

parents as (
    select * from posts
),

renamed as (
    select
        cast(parents.guid as varchar) as post_id,
        cast(tag_ids.value as bigint) as tag_id
    from tag_ids
    inner join parents
        on tag_ids._dlt_parent_id = parents._dlt_id
)

select distinct * from renamed
