-- A key's checksum bucket is now key >> 5 (floor), no longer key / 32 (toward zero), which put
-- keys -31..31 in one bucket while its rows were read as 0..31: a change to a negative key could
-- go unseen. Buckets of keys from 0 up are numbered as before; a mirror holding a negative key
-- has its bucket checksums computed again by its next sync.
do $$
declare
    mirrored record;
    has_negative boolean;
begin
    for mirrored in select table_name, key_column from diffmig.mirror_tables loop
        if to_regclass(format('diffmig_staging.%I', mirrored.table_name)) is null then
            continue;
        end if;
        execute format(
            'select exists (select 1 from diffmig_staging.%I where %I < 0)',
            mirrored.table_name, mirrored.key_column
        ) into has_negative;
        if has_negative then
            update diffmig.mirror_tables set buckets_valid = false
            where table_name = mirrored.table_name;
        end if;
    end loop;
end
$$;
