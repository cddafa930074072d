// The multi-tenant SaaS: tenants, users, projects, tasks and an audit log (bench/workloads/saas.sql).
// Every statement filters on tenant_id, with parameters that belong together (a project and its
// tenant, a user and hers): the mix computes the loader's draws (bench/draw.ts) instead of asking
// the database. Its mix: a user's open tasks, a project's board and status counts, the tasks of an
// owner's projects (a join), a tenant's latest and overdue tasks, a task's history, sign-in, the
// project list, and 15 % writes (tasks created and updated, audit rows).
import { oneOf, rowsAt, uniform, unit, zipf } from '../draw.js';
import { loadSqlWorkload, WORKLOADS_DIR, type AdvisorWorkload, type MixScript } from './workload.js';

const TABLES = ['tenants', 'users', 'projects', 'tasks', 'audit_log'];
/** Zipf exponent of tenant sizes (saas.sql). */
const TENANT_SKEW = 1.05;
/** A task status in the data's proportions (saas.sql): updates keep the mix of statuses as it is. */
const status = (u: number) => (u < 0.75 ? 'done' : u < 0.87 ? 'open' : u < 0.95 ? 'in_progress' : 'blocked');

/** Which tenant owns each user, project and task at `scale`: saas.sql's streams 1, 2 and 3. */
export class SaasFacts {
  readonly tenants: number;
  readonly users: number;
  readonly projects: number;
  readonly tasks: number;
  private usersByTenant: Map<number, number[]> | undefined;

  constructor(scale: number) {
    this.tenants = Math.max(20, rowsAt(2_000, scale));
    this.users = rowsAt(100_000, scale);
    this.projects = rowsAt(40_000, scale);
    this.tasks = rowsAt(1_200_000, scale);
  }

  tenantOfUser = (user: number) => zipf(unit(user, 1), this.tenants, TENANT_SKEW);
  tenantOfProject = (project: number) => zipf(unit(project, 2), this.tenants, TENANT_SKEW);
  projectOfTask = (task: number) => 1 + Math.floor(unit(task, 3) * this.projects);

  /** A user of `tenant`, or null when it has none (as an unassigned task). */
  userOf(tenant: number, random: () => number): number | null {
    if (!this.usersByTenant) {
      this.usersByTenant = new Map();
      for (let user = 1; user <= this.users; user += 1) {
        const list = this.usersByTenant.get(this.tenantOfUser(user)) ?? [];
        list.push(user);
        this.usersByTenant.set(this.tenantOfUser(user), list);
      }
    }
    const list = this.usersByTenant.get(tenant);
    return list ? oneOf(random, list) : null;
  }
}

export function saasMix(scale: number): MixScript[] {
  const facts = new SaasFacts(scale);
  // Users, projects and tasks are drawn uniformly, so tenants come as often as they are large.
  const user = (r: () => number) => {
    const id = uniform(r, facts.users);
    return { id, tenant: facts.tenantOfUser(id) };
  };
  const project = (r: () => number) => {
    const id = uniform(r, facts.projects);
    return { id, tenant: facts.tenantOfProject(id) };
  };
  const task = (r: () => number) => {
    const id = uniform(r, facts.tasks);
    return { id, tenant: facts.tenantOfProject(facts.projectOfTask(id)) };
  };
  return [
    {
      name: 'my_open_tasks',
      weight: 16,
      sql: `SELECT id, title, status, due_at FROM tasks WHERE tenant_id = $1 AND assignee_id = $2 AND status <> 'done' ORDER BY due_at LIMIT 50`,
      draw: (r) => {
        const u = user(r);
        return [u.tenant, u.id];
      },
    },
    {
      name: 'project_board',
      weight: 16,
      sql: 'SELECT id, title, status, assignee_id, updated_at FROM tasks WHERE tenant_id = $1 AND project_id = $2 ORDER BY updated_at DESC LIMIT 50',
      draw: (r) => {
        const p = project(r);
        return [p.tenant, p.id];
      },
    },
    {
      name: 'owned_project_tasks',
      weight: 10,
      sql:
        'SELECT t.id, t.title, t.status, p.name FROM tasks t JOIN projects p ON p.id = t.project_id ' +
        'WHERE t.tenant_id = $1 AND p.tenant_id = $1 AND p.owner_id = $2 ORDER BY t.updated_at DESC LIMIT 50',
      draw: (r) => {
        const u = user(r);
        return [u.tenant, u.id];
      },
    },
    {
      name: 'project_status_counts',
      weight: 10,
      sql: 'SELECT status, count(*) FROM tasks WHERE tenant_id = $1 AND project_id = $2 GROUP BY status',
      draw: (r) => {
        const p = project(r);
        return [p.tenant, p.id];
      },
    },
    {
      name: 'tenant_recent_tasks',
      weight: 8,
      sql: 'SELECT id, project_id, title, status, updated_at FROM tasks WHERE tenant_id = $1 ORDER BY updated_at DESC LIMIT 50',
      draw: (r) => [project(r).tenant],
    },
    {
      name: 'tenant_overdue',
      weight: 6,
      sql: `SELECT count(*) FROM tasks WHERE tenant_id = $1 AND status IN ('open', 'in_progress') AND due_at < now()`,
      draw: (r) => [project(r).tenant],
    },
    {
      name: 'task_history',
      weight: 6,
      sql: `SELECT at, actor_id, action, detail FROM audit_log WHERE tenant_id = $1 AND entity = 'task' AND entity_id = $2 ORDER BY at DESC LIMIT 20`,
      draw: (r) => {
        const t = task(r);
        return [t.tenant, t.id];
      },
    },
    {
      name: 'sign_in',
      weight: 8,
      sql: 'SELECT id, name, role FROM users WHERE tenant_id = $1 AND email = $2',
      draw: (r) => {
        const u = user(r);
        return [u.tenant, `user${u.id}@t${u.tenant}.example`];
      },
    },
    {
      name: 'project_list',
      weight: 5,
      sql: 'SELECT id, name, owner_id FROM projects WHERE tenant_id = $1 AND NOT archived ORDER BY name LIMIT 100',
      draw: (r) => [project(r).tenant],
    },
    {
      name: 'create_task',
      weight: 3,
      sql:
        'INSERT INTO tasks (tenant_id, project_id, assignee_id, status, priority, title, due_at, created_at, updated_at) ' +
        `VALUES ($1, $2, $3, 'open', $4, $5, now() + $6::int * interval '1 day', now(), now())`,
      draw: (r) => {
        const p = project(r);
        return [p.tenant, p.id, facts.userOf(p.tenant, r), uniform(r, 4), `New task ${uniform(r, 1_000_000)}`, uniform(r, 60)];
      },
    },
    {
      name: 'update_task',
      weight: 7,
      sql: 'UPDATE tasks SET status = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2',
      draw: (r) => {
        const t = task(r);
        return [t.tenant, t.id, status(r())];
      },
    },
    {
      name: 'audit_write',
      weight: 5,
      sql: `INSERT INTO audit_log (tenant_id, actor_id, entity, entity_id, action, at, detail) VALUES ($1, $2, 'task', $3, 'update', now(), $4::jsonb)`,
      draw: (r) => {
        const t = task(r);
        return [t.tenant, facts.userOf(t.tenant, r), t.id, JSON.stringify({ field: 'status', ip: `10.${uniform(r, 256) - 1}.0.1` })];
      },
    },
  ];
}

export const saas: AdvisorWorkload = {
  name: 'saas',
  describe: (scale) => {
    const facts = new SaasFacts(scale);
    const rows = (n: number) => n.toLocaleString('en-US');
    return (
      `the multi-tenant SaaS (bench/workloads/saas.sql): ${rows(facts.tenants)} tenants, ${rows(facts.users)} users, ` +
      `${rows(facts.projects)} projects, ${rows(facts.tasks)} tasks, ${rows(rowsAt(800_000, scale))} audit rows`
    );
  },
  load: (url, scale, log) => loadSqlWorkload(url, 'saas', TABLES, scale, log),
  mix: saasMix,
  handPicked: { label: "(c) the DBA's set (saas.dba.sql)", file: `${WORKLOADS_DIR}saas.dba.sql` },
};
