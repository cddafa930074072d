-- The DBA's index set for the multi-tenant SaaS workload, configuration (c) of the advisor bench:
-- written by reading the schema (saas.sql) and the query mix (saas.ts), before pgscope's advisor
-- ever ran on this workload (see the git history). Each index says which statements of the mix it
-- serves. Every statement filters on tenant_id, so every index leads with it.

-- my_open_tasks (tenant_id, assignee_id, status <> 'done' ORDER BY due_at LIMIT 50): open work is
-- a quarter of the tasks; the partial index skips the rest.
CREATE INDEX tasks_open_assignee_due_at_idx ON tasks (tenant_id, assignee_id, due_at) WHERE status <> 'done';

-- tenant_overdue (tenant_id, status IN ('open', 'in_progress'), due_at < now(), count): the same
-- partial predicate (the planner proves IN ('open', 'in_progress') implies <> 'done').
CREATE INDEX tasks_open_due_at_idx ON tasks (tenant_id, due_at) WHERE status <> 'done';

-- project_board (tenant_id, project_id ORDER BY updated_at DESC LIMIT 50), project_status_counts
-- (tenant_id, project_id, GROUP BY status: about 30 heap rows a project) and the tasks side of
-- owned_project_tasks (one range per project of the owner).
CREATE INDEX tasks_tenant_project_updated_at_idx ON tasks (tenant_id, project_id, updated_at);

-- tenant_recent_tasks (tenant_id ORDER BY updated_at DESC LIMIT 50).
CREATE INDEX tasks_tenant_updated_at_idx ON tasks (tenant_id, updated_at);

-- task_history (tenant_id, entity = 'task', entity_id = $2 ORDER BY at DESC LIMIT 20).
CREATE INDEX audit_log_tenant_entity_at_idx ON audit_log (tenant_id, entity, entity_id, at);

-- sign_in (tenant_id = $1 AND email = $2): one user per email in a tenant.
CREATE UNIQUE INDEX users_tenant_email_idx ON users (tenant_id, email);

-- owned_project_tasks (the projects side: tenant_id = $1 AND owner_id = $2).
CREATE INDEX projects_tenant_owner_idx ON projects (tenant_id, owner_id);

-- project_list (tenant_id = $1 AND NOT archived ORDER BY name LIMIT 100).
CREATE INDEX projects_tenant_name_active_idx ON projects (tenant_id, name) WHERE NOT archived;
