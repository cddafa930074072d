-- The multi-tenant SaaS workload (bench/workloads/saas.ts), primary keys and foreign keys only:
-- the "before" state. At scale 1: 2,000 tenants, 100,000 users, 40,000 projects, 1,200,000 tasks
-- and 800,000 audit rows. Users and projects go to tenants by a Zipf-like law (s = 1.05: the
-- largest tenant holds about 11 % of the rows, half of the tenants under 0.02 % each); a task
-- belongs to a project drawn uniformly, and to that project's tenant; 'done' is 75 % of tasks.
-- Streams 1, 2 and 3 of bench_gen.unit are mirrored in bench/workloads/saas.ts (which tenant owns
-- a user, a project, a task): keep them in step. Rows are stored as an application writes them,
-- not as the loader's joins produce them (grouped by tenant): projects and tasks in id order, the
-- audit log in time order. Rows grouped by tenant would make the planner read a tenant's rows as
-- nearly sequential (tenant_id correlation 1.0), as no real multi-tenant table is.
-- Blocks are separated by blank lines and run two at a time, in phases separated by `-- then`;
-- :scale is replaced by the loader (bench/workloads/workload.ts).
DROP TABLE IF EXISTS audit_log, tasks, projects, users, tenants CASCADE;
CREATE TABLE tenants (
  id bigserial PRIMARY KEY,
  name text NOT NULL,
  plan text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE TABLE users (
  id bigserial PRIMARY KEY,
  tenant_id bigint NOT NULL,
  email text NOT NULL,
  name text NOT NULL,
  role text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE TABLE projects (
  id bigserial PRIMARY KEY,
  tenant_id bigint NOT NULL,
  owner_id bigint,
  name text NOT NULL,
  archived boolean NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE TABLE tasks (
  id bigserial PRIMARY KEY,
  tenant_id bigint NOT NULL,
  project_id bigint NOT NULL,
  assignee_id bigint,
  status text NOT NULL,
  priority smallint NOT NULL,
  title text NOT NULL,
  due_at timestamptz,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  tenant_id bigint NOT NULL,
  actor_id bigint,
  entity text NOT NULL,
  entity_id bigint NOT NULL,
  action text NOT NULL,
  at timestamptz NOT NULL,
  detail jsonb NOT NULL
);
-- then

INSERT INTO tenants (id, name, plan, created_at)
SELECT g, 'Tenant ' || g,
       CASE WHEN bench_gen.unit(g, 61) < 0.70 THEN 'free' WHEN bench_gen.unit(g, 61) < 0.95 THEN 'team' ELSE 'enterprise' END,
       now() - bench_gen.unit(g, 62) * interval '1500 days'
FROM generate_series(1, greatest(20, (2000 * :scale)::int)) g;

INSERT INTO users (id, tenant_id, email, name, role, created_at)
SELECT g, tenant_id, 'user' || g || '@t' || tenant_id || '.example', 'User ' || g,
       CASE WHEN u_role < 0.05 THEN 'admin' WHEN u_role < 0.85 THEN 'member' ELSE 'guest' END,
       now() - bench_gen.unit(g, 64) * interval '1000 days'
FROM (SELECT g, bench_gen.zipf(bench_gen.unit(g, 1), greatest(20, (2000 * :scale)::int), 1.05) AS tenant_id,
             bench_gen.unit(g, 63) AS u_role
      FROM generate_series(1, (100000 * :scale)::int) g
      OFFSET 0) u;

-- then
-- Each tenant's users numbered 1..n, to draw a user of a given tenant (an owner, an assignee, an actor).
CREATE TABLE bench_gen.tenant_users AS
SELECT tenant_id, row_number() OVER (PARTITION BY tenant_id ORDER BY id)::int AS rn, id
FROM users;
CREATE TABLE bench_gen.tenant_user_counts AS
SELECT tenant_id, count(*)::int AS n
FROM users
GROUP BY tenant_id;
ANALYZE bench_gen.tenant_users, bench_gen.tenant_user_counts;
-- then

-- 15 % of projects archived; the owner is a user of the tenant (none when the tenant has no user).
INSERT INTO projects (id, tenant_id, owner_id, name, archived, created_at)
SELECT p.g, p.tenant_id, tu.id, 'Project ' || p.g, bench_gen.unit(p.g, 65) < 0.15,
       now() - bench_gen.unit(p.g, 66) * interval '900 days'
FROM (SELECT g, bench_gen.zipf(bench_gen.unit(g, 2), greatest(20, (2000 * :scale)::int), 1.05) AS tenant_id
      FROM generate_series(1, (40000 * :scale)::int) g) p
LEFT JOIN bench_gen.tenant_user_counts c ON c.tenant_id = p.tenant_id
LEFT JOIN bench_gen.tenant_users tu ON tu.tenant_id = p.tenant_id AND tu.rn = 1 + floor(bench_gen.unit(p.g, 67) * c.n)::int
ORDER BY p.g;

-- Tasks of the last year: done (75 %), open (12 %), in progress (8 %), blocked (5 %); 10 %
-- unassigned, 15 % without a due date.
INSERT INTO tasks (id, tenant_id, project_id, assignee_id, status, priority, title, due_at, created_at, updated_at)
SELECT t.g, t.tenant_id, t.project_id,
       CASE WHEN bench_gen.unit(t.g, 71) < 0.10 THEN NULL ELSE tu.id END,
       CASE WHEN t.u_status < 0.75 THEN 'done'
            WHEN t.u_status < 0.87 THEN 'open'
            WHEN t.u_status < 0.95 THEN 'in_progress'
            ELSE 'blocked' END,
       1 + floor(bench_gen.unit(t.g, 73) * 4)::int,
       'Task ' || t.g,
       CASE WHEN bench_gen.unit(t.g, 74) < 0.15 THEN NULL ELSE t.created_at + (1 + bench_gen.unit(t.g, 75) * 60) * interval '1 day' END,
       t.created_at,
       t.created_at + bench_gen.unit(t.g, 76) * (now() - t.created_at)
FROM (SELECT g, project_id,
             bench_gen.zipf(bench_gen.unit(project_id, 2), greatest(20, (2000 * :scale)::int), 1.05) AS tenant_id,
             now() - bench_gen.unit(g, 77) * interval '365 days' AS created_at,
             bench_gen.unit(g, 72) AS u_status
      FROM (SELECT g, 1 + floor(bench_gen.unit(g, 3) * (40000 * :scale)::int)::bigint AS project_id
            FROM generate_series(1, (1200000 * :scale)::int) g
            OFFSET 0) x
      OFFSET 0) t
LEFT JOIN bench_gen.tenant_user_counts c ON c.tenant_id = t.tenant_id
LEFT JOIN bench_gen.tenant_users tu ON tu.tenant_id = t.tenant_id AND tu.rn = 1 + floor(bench_gen.unit(t.g, 78) * c.n)::int
ORDER BY t.g;

-- Audit rows of the last year about tasks (70 %), projects (20 %) and users (10 %), each in the
-- tenant of what it is about; the actor is a user of that tenant (none for the system).
INSERT INTO audit_log (tenant_id, actor_id, entity, entity_id, action, at, detail)
SELECT a.tenant_id, tu.id, a.entity, a.entity_id,
       CASE WHEN a.u_action < 0.60 THEN 'update' WHEN a.u_action < 0.80 THEN 'create'
            WHEN a.u_action < 0.95 THEN 'comment' ELSE 'delete' END,
       now() - bench_gen.unit(a.g, 84) * interval '365 days',
       jsonb_build_object('field', (ARRAY['status','title','due_at','assignee','name'])[1 + floor(bench_gen.unit(a.g, 85) * 5)::int],
                          'ip', '10.' || floor(bench_gen.unit(a.g, 86) * 256)::int || '.0.1')
FROM (SELECT g, entity, entity_id, bench_gen.unit(g, 83) AS u_action,
             CASE entity
               WHEN 'task' THEN bench_gen.zipf(bench_gen.unit(1 + floor(bench_gen.unit(entity_id, 3) * (40000 * :scale)::int)::bigint, 2), greatest(20, (2000 * :scale)::int), 1.05)
               WHEN 'project' THEN bench_gen.zipf(bench_gen.unit(entity_id, 2), greatest(20, (2000 * :scale)::int), 1.05)
               ELSE bench_gen.zipf(bench_gen.unit(entity_id, 1), greatest(20, (2000 * :scale)::int), 1.05)
             END AS tenant_id
      FROM (SELECT g,
                   CASE WHEN u_entity < 0.70 THEN 'task' WHEN u_entity < 0.90 THEN 'project' ELSE 'user' END AS entity,
                   1 + floor(bench_gen.unit(g, 82) * CASE WHEN u_entity < 0.70 THEN (1200000 * :scale)::int
                                                          WHEN u_entity < 0.90 THEN (40000 * :scale)::int
                                                          ELSE (100000 * :scale)::int END)::bigint AS entity_id
            FROM (SELECT g, bench_gen.unit(g, 81) AS u_entity FROM generate_series(1, (800000 * :scale)::int) g OFFSET 0) f
            OFFSET 0) e
      OFFSET 0) a
LEFT JOIN bench_gen.tenant_user_counts c ON c.tenant_id = a.tenant_id
LEFT JOIN bench_gen.tenant_users tu ON tu.tenant_id = a.tenant_id AND tu.rn = 1 + floor(bench_gen.unit(a.g, 87) * c.n)::int
  AND bench_gen.unit(a.g, 88) >= 0.05
ORDER BY 6;

-- then
SELECT setval(pg_get_serial_sequence('tenants', 'id'), (SELECT max(id) FROM tenants)),
       setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users)),
       setval(pg_get_serial_sequence('projects', 'id'), (SELECT max(id) FROM projects)),
       setval(pg_get_serial_sequence('tasks', 'id'), (SELECT max(id) FROM tasks));
-- then

ALTER TABLE users ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
ALTER TABLE projects ADD FOREIGN KEY (tenant_id) REFERENCES tenants, ADD FOREIGN KEY (owner_id) REFERENCES users;
ALTER TABLE tasks ADD FOREIGN KEY (tenant_id) REFERENCES tenants, ADD FOREIGN KEY (project_id) REFERENCES projects,
  ADD FOREIGN KEY (assignee_id) REFERENCES users;
ALTER TABLE audit_log ADD FOREIGN KEY (tenant_id) REFERENCES tenants;
