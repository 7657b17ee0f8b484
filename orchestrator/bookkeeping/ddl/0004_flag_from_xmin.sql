-- Where a mirror's next sync starts looking for written rows: the xmin (its 32 bits) of the
-- source snapshot of the last sync that applied the table. Rows whose xmin is as new or newer
-- were (or may have been) written since; a later sync sends only those, in the buckets that
-- differ, and accepts a bucket only when they explain its whole checksum difference (the
-- others are compared row by row, as before). NULL: compare every differing bucket row by row.
alter table diffmig.mirror_tables add column flag_from_xmin bigint;
comment on column diffmig.mirror_tables.flag_from_xmin is
    'xmin of the source snapshot of the last sync that applied the table: rows at least this '
    'new are sent as written since.';
