-- Deterministic data for the reference workload at scale :scale
-- (1 = 200k users, 2M activity rows, 20k templates, 500k audit rows; the demo uses 0.5).
--
-- Each block (separated by a blank line) seeds its own random generator, so the blocks give the
-- same rows whatever order they run in: pgscope's loader runs them in parallel, and
-- `psql -v scale=1 -f demo/data.sql` runs them one after the other. The activity rows are split
-- in two blocks so that the largest table loads on two cores.
SELECT setseed(0.42);
INSERT INTO users (email, username, hashed_password, is_active, created_at)
SELECT 'user' || g || '@example.com', 'user_' || g, md5(g::text), (g % 10) <> 0,
       now() - (g % 700) * interval '1 day'
FROM generate_series(1, (200000 * :scale)::int) g;

SELECT setseed(0.43);
INSERT INTO activity_logs (user_id, action, details, ip_address, user_agent, "timestamp")
SELECT 1 + (random() * ((200000 * :scale)::int - 1))::int,
       (ARRAY['login','logout','view','edit','create','delete','export','share'])[1 + (g % 8)],
       jsonb_build_object('page', g % 500, 'ms', g % 1000),
       '10.0.' || (g % 256) || '.' || (g % 200), 'Mozilla/5.0 agent ' || (g % 50),
       now() - random() * interval '330 days'
FROM generate_series(1, (1000000 * :scale)::int) g;

SELECT setseed(0.44);
INSERT INTO activity_logs (user_id, action, details, ip_address, user_agent, "timestamp")
SELECT 1 + (random() * ((200000 * :scale)::int - 1))::int,
       (ARRAY['login','logout','view','edit','create','delete','export','share'])[1 + (g % 8)],
       jsonb_build_object('page', g % 500, 'ms', g % 1000),
       '10.0.' || (g % 256) || '.' || (g % 200), 'Mozilla/5.0 agent ' || (g % 50),
       now() - random() * interval '330 days'
FROM generate_series((1000000 * :scale)::int + 1, (2000000 * :scale)::int) g;

SELECT setseed(0.45);
INSERT INTO workflow_templates (name, config)
SELECT 'template ' || g,
       jsonb_build_object('trigger', (ARRAY['webhook','cron','manual','event'])[1 + g % 4],
                          'owner', 'team' || (g % 300), 'steps', g % 20, 'tag', 'tag' || g)
FROM generate_series(1, (20000 * :scale)::int) g;

SELECT setseed(0.46);
INSERT INTO audit_trails (entity_type, entity_id, action, metadata, created_at)
SELECT (ARRAY['user','workflow','report','invoice'])[1 + g % 4], g % 50000, 'update',
       jsonb_build_object('request_id', 'req-' || g, 'actor', g % 1000, 'source', 'api'),
       now() - (g % 365) * interval '1 day'
FROM generate_series(1, (500000 * :scale)::int) g;

VACUUM ANALYZE;
