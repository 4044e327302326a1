-- One row per inbox message and tag: the message's tag ids unnested by dlt
-- into a child table, joined back to the message's guid.
with

tag_ids as (
    select * from messages__tag_ids
),

parents as (
    select * from messages
),

renamed as (
    select
        cast(parents.guid as varchar) as message_id,
        cast(tag_ids.value as bigint) as tag_id
    from tag_ids
    inner join parents
        on tag_ids._dlt_parent_id = parents._dlt_id
)

select distinct * from renamed
