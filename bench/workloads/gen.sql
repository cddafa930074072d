-- Helpers for the bench workloads' data (shop.sql, saas.sql), in a schema of their own that the
-- loader drops at the end. Rows are drawn from their number, not from random(): every load of a
-- scale holds the same rows, and bench/draw.ts computes the same draws in TypeScript (unit, zipf),
-- so that a mix can pick, say, a project together with the tenant that owns it.
-- Each function is one SQL expression, so the planner inlines it into the INSERT ... SELECT.
DROP SCHEMA IF EXISTS bench_gen CASCADE;
CREATE SCHEMA bench_gen;

-- A 32-bit integer mix (two xor-shift rounds around a multiplication by murmur2's constant).
CREATE FUNCTION bench_gen.mix32(x bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ((((x # (x >> 15)) * 1540483477) & 4294967295) # ((((x # (x >> 15)) * 1540483477) & 4294967295) >> 13)) $$;

-- A uniform draw in [0, 1) for row g (g < 2^31) of stream k: each column drawn from its own stream
-- (a small number), so that the draws of one row are independent.
CREATE FUNCTION bench_gen.unit(g bigint, k int) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT bench_gen.mix32((g * (((k::bigint * 2654435761) & 4294967295) | 1)) & 4294967295)::float8 / 4294967296 $$;

-- A Zipf-like rank in 1..n for the uniform draw u (continuous inverse CDF of x^-s, s <> 1):
-- rank 1 is the most frequent.
CREATE FUNCTION bench_gen.zipf(u float8, n float8, s float8) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT least(n, floor(power(1 + u * (power(n + 1, 1 - s) - 1), 1 / (1 - s))))::int $$;
