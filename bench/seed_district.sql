-- The bulk path for the benchmark harness: a district's year on PostgreSQL, written
-- straight into the tables (the API would take hours for a million rows). After the raw
-- rows, the rollups are rebuilt from them the way closing an activity writes them
-- (service/attendance.rs: write_rollups): one activity_stats row per finished activity,
-- one participant_years row per participant × community × year, with a month mask.
--
-- Runs after `linli seed-demo` (it hangs the district under the demo's 兰州市):
-- 1 county, 10 streets, 100 communities (8 urban and 2 rural per street), 1,000 filed
-- organizations (10 per community), 100,000 residents (1,000 per community), 50,000
-- activities spread over the year around today (about 300 days past, 65 to come):
-- the past ones finished with their sign-ups and exactly 1,000,000 attendance rows, the
-- coming ones published with places left.
\set ON_ERROR_STOP on
BEGIN;

INSERT INTO regions (parent_id, code, name, level, kind, path, latitude, longitude, created_at)
SELECT id, '620199000000', '基准测试区', 'county', NULL, '/', 36.10, 103.70, now()
FROM regions WHERE code = '620100000000';
UPDATE regions SET path = (SELECT path FROM regions WHERE code = '620100000000') || id || '/' WHERE code = '620199000000';

INSERT INTO regions (parent_id, code, name, level, kind, path, latitude, longitude, created_at)
SELECT d.id, '620199' || lpad(s::text, 3, '0') || '000', '基准街道' || s, 'street', NULL, '/',
       36.10 + s * 0.01, 103.70 + s * 0.01, now()
FROM regions d, generate_series(1, 10) s WHERE d.code = '620199000000';
UPDATE regions r SET path = d.path || r.id || '/'
FROM regions d WHERE d.code = '620199000000' AND r.parent_id = d.id;

INSERT INTO regions (parent_id, code, name, level, kind, path, latitude, longitude, created_at)
SELECT s.id, substr(s.code, 1, 9) || lpad(c::text, 3, '0'), s.name || '社区' || c, 'community',
       CASE WHEN c > 8 THEN 'rural' ELSE 'urban' END, '/', s.latitude + c * 0.001, s.longitude + c * 0.001, now()
FROM regions s, generate_series(1, 10) c WHERE s.code LIKE '620199___000' AND s.level = 'street';
UPDATE regions r SET path = s.path || r.id || '/'
FROM regions s WHERE s.code LIKE '620199___000' AND s.level = 'street' AND r.parent_id = s.id;

-- c: 0..99, street-major; lat/lng of the community for what sits in it.
CREATE TEMP TABLE bench_communities AS
SELECT row_number() OVER (ORDER BY code) - 1 AS c, id, latitude, longitude
FROM regions WHERE code LIKE '620199%' AND level = 'community';
CREATE INDEX ON bench_communities (c);

INSERT INTO users (openid, nickname, home_community_id, token_version, created_at, updated_at)
SELECT 'bench-u-' || u, '居民' || u, bc.id, 0, now(), now()
FROM generate_series(0, 99999) u JOIN bench_communities bc ON bc.c = u / 1000;
CREATE TEMP TABLE bench_users AS
SELECT substr(openid, 9)::int AS u, id FROM users WHERE openid LIKE 'bench-u-%';
CREATE INDEX ON bench_users (u);

INSERT INTO organizations (name, category, community_id, description, standing, status, has_party_organization,
                           filed_at, created_at, updated_at, latitude, longitude)
SELECT '基准组织' || o,
       (ARRAY['charity','community_service','culture_sports','mutual_aid','rural_production','social_work'])[1 + o % 6],
       bc.id, '基准测试数据', 'filed', 'filed', false, now() - interval '400 days', now() - interval '400 days', now(),
       bc.latitude + (o % 10) * 0.0003, bc.longitude - (o % 10) * 0.0003
FROM generate_series(0, 999) o JOIN bench_communities bc ON bc.c = o / 10;
CREATE TEMP TABLE bench_orgs AS
SELECT row_number() OVER (ORDER BY id) - 1 AS o, id, community_id, latitude, longitude
FROM organizations WHERE name LIKE '基准组织%';

-- 50 activities per organization; activity g starts (g·7 mod 365) − 300 days from today.
CREATE TEMP TABLE bench_plan AS
SELECT bo.id AS organization_id, bo.community_id, bo.latitude, bo.longitude, g,
       date_trunc('day', now()) + (((g * 7) % 365 - 300) || ' days')::interval + ((1 + g % 10) || ' hours')::interval
         AS starts_at
FROM bench_orgs bo, generate_series(0, 49) a, LATERAL (SELECT bo.o * 50 + a AS g) gg;

INSERT INTO activities (organization_id, community_id, kind, title, description, location, latitude, longitude,
                        starts_at, ends_at, signup_deadline, cancel_cutoff_minutes, capacity, waitlist_enabled,
                        service_minutes, target_groups, status, confirmed_count, waitlist_count, signup_seq, version,
                        published_at, finished_at, created_at, updated_at)
SELECT p.organization_id, p.community_id,
       (ARRAY['volunteer','mutual_aid','culture_sports','training','charity','other'])[1 + (p.g % 6)],
       '基准活动' || p.g, '基准测试数据', '社区活动室', p.latitude, p.longitude,
       p.starts_at, p.starts_at + interval '2 hours', p.starts_at, 120, 40, true, 120, '',
       CASE WHEN p.starts_at < date_trunc('day', now()) THEN 'finished' ELSE 'published' END,
       0, 0, 0, 1, p.starts_at - interval '14 days',
       CASE WHEN p.starts_at < date_trunc('day', now()) THEN p.starts_at + interval '2 hours' END,
       p.starts_at - interval '14 days', now()
FROM bench_plan p ORDER BY p.g;

-- The finished ones, numbered, with how many came: exactly 1,000,000 in all.
CREATE TEMP TABLE bench_past AS
SELECT i, id, starts_at, ends_at, c,
       ((i + 1) * 1000000) / count(*) OVER () - (i * 1000000) / count(*) OVER () AS came
FROM (SELECT row_number() OVER (ORDER BY a.id) - 1 AS i, a.id, a.starts_at, a.ends_at, bc.c
      FROM activities a JOIN bench_communities bc ON bc.id = a.community_id
      WHERE a.title LIKE '基准活动%' AND a.status = 'finished') x;

-- Sign-ups from the community's own residents: `came` attended, 2 more did not.
INSERT INTO signups (activity_id, user_id, status, seq, created_at, updated_at)
SELECT bp.id, bu.id, CASE WHEN k < bp.came THEN 'attended' ELSE 'no_show' END, k + 1,
       bp.starts_at - interval '3 days', bp.ends_at
FROM bench_past bp
CROSS JOIN LATERAL generate_series(0, bp.came + 1) k
JOIN bench_users bu ON bu.u = bp.c * 1000 + (bp.i * 37 + k * 7) % 1000;
UPDATE activities a SET confirmed_count = bp.came + 2, signup_seq = bp.came + 2
FROM bench_past bp WHERE bp.id = a.id;

INSERT INTO attendance (activity_id, user_id, checked_in_at, checked_out_at, in_method, out_method, credited_minutes,
                        created_at, updated_at)
SELECT s.activity_id, s.user_id, bp.starts_at + ((s.seq % 10) || ' minutes')::interval, bp.ends_at, 'roster', 'roster',
       120 - (s.seq % 10)::int, bp.ends_at, bp.ends_at
FROM signups s JOIN bench_past bp ON bp.id = s.activity_id
WHERE s.status = 'attended';

-- The rollups, as closing writes them.
INSERT INTO activity_stats (activity_id, organization_id, community_id, kind, month, starts_at, signups, attended,
                            no_shows, minutes)
SELECT a.id, a.organization_id, a.community_id, a.kind, to_char(a.starts_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'),
       a.starts_at, bp.came + 2, bp.came, 2, coalesce(m.minutes, 0)
FROM bench_past bp
JOIN activities a ON a.id = bp.id
LEFT JOIN (SELECT activity_id, sum(credited_minutes) AS minutes FROM attendance GROUP BY activity_id) m
  ON m.activity_id = a.id;

INSERT INTO participant_years (community_id, year, user_id, months)
SELECT a.community_id, extract(year FROM a.starts_at AT TIME ZONE 'Asia/Shanghai')::int, t.user_id,
       bit_or(1 << (extract(month FROM a.starts_at AT TIME ZONE 'Asia/Shanghai')::int - 1))
FROM attendance t JOIN bench_past bp ON bp.id = t.activity_id JOIN activities a ON a.id = t.activity_id
GROUP BY 1, 2, 3;

COMMIT;
VACUUM ANALYZE;
SELECT (SELECT count(*) FROM regions WHERE code LIKE '620199%') AS regions,
       (SELECT count(*) FROM organizations WHERE name LIKE '基准组织%') AS organizations,
       (SELECT count(*) FROM users WHERE openid LIKE 'bench-u-%') AS residents,
       (SELECT count(*) FROM activities WHERE title LIKE '基准活动%') AS activities,
       (SELECT count(*) FROM activities WHERE title LIKE '基准活动%' AND status = 'published') AS upcoming,
       (SELECT count(*) FROM signups) AS signups,
       (SELECT count(*) FROM attendance) AS attendance_rows,
       (SELECT count(*) FROM participant_years) AS participant_years;
