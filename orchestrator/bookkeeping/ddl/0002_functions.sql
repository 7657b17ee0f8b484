-- Helper functions the dbt models use, in the private schema.

-- Text -> jsonb that never raises: NULL for NULL, blank or malformed input. Parallel unsafe: its
-- exception block starts a subtransaction, which a parallel query cannot.
create or replace function diffmig.try_jsonb(value text)
returns jsonb
language plpgsql immutable parallel unsafe
as $$
begin
    if value is null or btrim(value) = '' then
        return null;
    end if;
    return value::jsonb;
exception when others then
    return null;
end
$$;
comment on function diffmig.try_jsonb(text) is
    'Parses JSON held as text; NULL instead of an error for blank or malformed values.';
