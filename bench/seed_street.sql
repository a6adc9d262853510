-- The bulk path for the metrics benchmark: a year of one street on PostgreSQL, written
-- straight into the tables (the API would take hours for a million rows). After the raw
-- rows, the rollups are rebuilt from them the way closing an activity writes them
-- (service/attendance.rs: write_rollups): one activity_stats row per finished activity,
-- one participant_years row per participant × community × year, with a month mask.
--
-- 1 street, 20 communities (16 urban, 4 rural), 200 organizations, 20,000 residents,
-- 10,000 finished activities over the past year, 1,100,000 sign-ups, 1,000,000
-- attendance rows.
\set ON_ERROR_STOP on
BEGIN;

INSERT INTO regions (parent_id, code, name, level, kind, path, latitude, longitude, created_at)
SELECT id, '620102099000', '基准测试街道', 'street', NULL, '/', 36.05, 103.85, now()
FROM regions WHERE code = '620102000000';
UPDATE regions SET path = (SELECT path FROM regions WHERE code = '620102000000') || id || '/' WHERE code = '620102099000';

INSERT INTO regions (parent_id, code, name, level, kind, path, latitude, longitude, created_at)
SELECT s.id, '620102099' || lpad(c::text, 3, '0'), '基准社区' || c,
       'community', CASE WHEN c > 16 THEN 'rural' ELSE 'urban' END, '/', 36.05 + c * 0.002, 103.85 + c * 0.002, now()
FROM regions s, generate_series(1, 20) c WHERE s.code = '620102099000';
UPDATE regions r SET path = s.path || r.id || '/'
FROM regions s WHERE s.code = '620102099000' AND r.parent_id = s.id;

CREATE TEMP TABLE bench_communities AS
SELECT row_number() OVER (ORDER BY code) - 1 AS c, id FROM regions WHERE code LIKE '620102099%' AND level = 'community';

INSERT INTO users (openid, nickname, home_community_id, token_version, created_at, updated_at)
SELECT 'bench-u-' || u, '居民' || u, bc.id, 0, now(), now()
FROM generate_series(0, 19999) u JOIN bench_communities bc ON bc.c = u % 20;
CREATE TEMP TABLE bench_users AS
SELECT substr(openid, 9)::int AS u, id FROM users WHERE openid LIKE 'bench-u-%';
CREATE INDEX ON bench_users (u);

INSERT INTO organizations (name, category, community_id, description, standing, status, has_party_organization,
                           filed_at, created_at, updated_at, latitude, longitude)
SELECT '基准组织' || o,
       (ARRAY['charity','community_service','culture_sports','mutual_aid','rural_production','social_work'])[1 + o % 6],
       bc.id, '基准测试数据', 'filed', 'filed', false, now() - interval '400 days', now() - interval '400 days', now(), 36.05, 103.85
FROM generate_series(0, 199) o JOIN bench_communities bc ON bc.c = o % 20;
CREATE TEMP TABLE bench_orgs AS
SELECT row_number() OVER (ORDER BY id) - 1 AS o, id, community_id FROM organizations WHERE name LIKE '基准组织%';

-- 50 activities per organization, spread over the past year.
INSERT INTO activities (organization_id, community_id, kind, title, description, location, starts_at, ends_at,
                        signup_deadline, cancel_cutoff_minutes, capacity, waitlist_enabled, service_minutes, target_groups,
                        status, confirmed_count, waitlist_count, signup_seq, version, published_at, finished_at, created_at, updated_at)
SELECT bo.id, bo.community_id,
       (ARRAY['volunteer','mutual_aid','culture_sports','training','charity','other'])[1 + (a % 6)],
       '基准活动' || (bo.o * 50 + a), '', '活动室',
       now() - ((1 + (bo.o * 50 + a) % 364) || ' days')::interval,
       now() - ((1 + (bo.o * 50 + a) % 364) || ' days')::interval + interval '2 hours',
       now() - ((1 + (bo.o * 50 + a) % 364) || ' days')::interval,
       120, 120, true, 120, '', 'finished', 110, 0, 110, 1, now() - interval '400 days', now(), now(), now()
FROM bench_orgs bo, generate_series(0, 49) a;
CREATE TEMP TABLE bench_activities AS
SELECT row_number() OVER (ORDER BY a.id) - 1 AS i, a.id, a.starts_at, a.ends_at, bc.c
FROM activities a JOIN bench_communities bc ON bc.id = a.community_id WHERE a.title LIKE '基准活动%';

-- 110 sign-ups each, from the community's own residents: 100 came, 10 did not.
INSERT INTO signups (activity_id, user_id, status, seq, created_at, updated_at)
SELECT ba.id, bu.id, CASE WHEN k < 100 THEN 'attended' ELSE 'no_show' END, k + 1, ba.starts_at - interval '3 days', ba.ends_at
FROM bench_activities ba, generate_series(0, 109) k
JOIN bench_users bu ON true
WHERE bu.u = ba.c + 20 * ((ba.i * 37 + k) % 1000);

INSERT INTO attendance (activity_id, user_id, checked_in_at, checked_out_at, in_method, out_method, credited_minutes, created_at, updated_at)
SELECT s.activity_id, s.user_id, ba.starts_at + ((s.seq % 10) || ' minutes')::interval, ba.ends_at, 'roster', 'roster',
       120 - (s.seq % 10)::int, ba.ends_at, ba.ends_at
FROM signups s JOIN bench_activities ba ON ba.id = s.activity_id
WHERE s.status = 'attended';

-- The rollups, as closing writes them.
INSERT INTO activity_stats (activity_id, organization_id, community_id, kind, month, starts_at, signups, attended, no_shows, minutes)
SELECT a.id, a.organization_id, a.community_id, a.kind, to_char(a.starts_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM'), a.starts_at,
       coalesce(s.attended, 0) + coalesce(s.no_shows, 0), coalesce(s.attended, 0), coalesce(s.no_shows, 0), coalesce(m.minutes, 0)
FROM activities a
JOIN bench_activities ba ON ba.id = a.id
LEFT JOIN (SELECT activity_id, count(*) FILTER (WHERE status = 'attended') AS attended,
                  count(*) FILTER (WHERE status = 'no_show') AS no_shows
           FROM signups GROUP BY activity_id) s ON s.activity_id = a.id
LEFT JOIN (SELECT activity_id, sum(credited_minutes) AS minutes FROM attendance GROUP BY activity_id) m ON m.activity_id = a.id;

INSERT INTO participant_years (community_id, year, user_id, months)
SELECT a.community_id, extract(year FROM a.starts_at AT TIME ZONE 'Asia/Shanghai')::int, t.user_id,
       bit_or(1 << (extract(month FROM a.starts_at AT TIME ZONE 'Asia/Shanghai')::int - 1))
FROM attendance t JOIN activities a ON a.id = t.activity_id
WHERE a.title LIKE '基准活动%'
GROUP BY 1, 2, 3;

COMMIT;
ANALYZE;
SELECT (SELECT count(*) FROM attendance) AS attendance_rows, (SELECT count(*) FROM signups) AS signups,
       (SELECT count(*) FROM activity_stats) AS activity_stats, (SELECT count(*) FROM participant_years) AS participant_years;
