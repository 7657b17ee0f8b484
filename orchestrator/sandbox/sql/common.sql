-- Sandbox helpers shared by the legacy generator, the earlier-migration simulation and the
-- activity simulation. Loaded (by a superuser) into schema `sandbox` of each sandbox database.
-- Everything random in the sandbox is a pure function of (seed, salt, key): no random(), no
-- now(), so a given (seed, scale) always produces the same rows, whatever the plan or parallelism.

create schema if not exists sandbox;

-- A uniform double in [0, 1) from a key, a salt (one per decision) and the seed.
create or replace function sandbox.rnd(key bigint, salt integer, seed bigint)
returns double precision
language sql immutable parallel safe strict
as $$
    select ((hashint8extended(key, seed * 1000003 + salt) >> 11) & 9007199254740991)::float8
        / 9007199254740992.0
$$;

-- A uniform integer in [lo, hi] (both inclusive).
create or replace function sandbox.rnd_int(key bigint, salt integer, seed bigint, lo bigint, hi bigint)
returns bigint
language sql immutable parallel safe strict
as $$
    select lo + floor(sandbox.rnd(key, salt, seed) * (hi - lo + 1))::bigint
$$;

-- One element of an array, picked uniformly.
create or replace function sandbox.pick(key bigint, salt integer, seed bigint, choices text[])
returns text
language sql immutable parallel safe strict
as $$
    select choices[1 + floor(sandbox.rnd(key, salt, seed) * array_length(choices, 1))::integer]
$$;

-- A deterministic UUID that looks like a random (version 4) one: the earlier scripts issued
-- random UUIDs; the sandbox derives them from the seed so that runs are reproducible.
create or replace function sandbox.uuid_for(entity text, key bigint, seed bigint)
returns uuid
language sql immutable parallel safe strict
as $$
    select overlay(overlay(md5(seed::text || ':' || entity || ':' || key::text)
        placing '4' from 13) placing substr('89ab', 1 + (key % 4)::integer, 1) from 17)::uuid
$$;

-- A timestamp uniformly between two bounds.
create or replace function sandbox.rnd_ts(
    key bigint, salt integer, seed bigint, lo timestamptz, hi timestamptz
)
returns timestamptz
language sql immutable parallel safe strict
as $$
    select lo + (hi - lo) * sandbox.rnd(key, salt, seed)
$$;
