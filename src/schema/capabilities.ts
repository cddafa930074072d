import {
  degradedFeatures,
  type Capabilities,
  type DegradedFeature,
  type ExtensionState,
  type InstalledExtension,
} from '../db/capabilities.js';
import { builder } from './builder.js';
import { READ_CACHE } from '../db/sharedReads.js';

const ExtensionStatus = builder.objectRef<ExtensionState>('ExtensionStatus').implement({
  description: 'An extension pgscope uses, as installed in the target database.',
  fields: (t) => ({
    installed: t.exposeBoolean('installed', { description: 'CREATE EXTENSION was run in this database.' }),
    version: t.exposeString('version', { nullable: true, description: 'Installed version, e.g. "1.10"; null when not installed.' }),
    schema: t.exposeString('schema', { nullable: true, description: "Schema holding the extension's objects; null when not installed." }),
    available: t.exposeBoolean('available', { description: "The server has the extension's files, so CREATE EXTENSION would work." }),
  }),
});

const Extension = builder.objectRef<InstalledExtension>('Extension').implement({
  description: 'An extension installed in the target database.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Extension name.' }),
    version: t.exposeString('version', { description: 'Installed version.' }),
    schema: t.exposeString('schema', { description: "Schema holding the extension's objects." }),
    defaultVersion: t.exposeString('defaultVersion', {
      nullable: true,
      description:
        'Version the server would install now; when it differs from version, ALTER EXTENSION ... UPDATE is pending. Null when the ' +
        "server no longer has the extension's files (pg_available_extensions lacks it).",
    }),
  }),
});

const Privileges = builder.objectRef<Capabilities>('Privileges').implement({
  description: "What pgscope's database role may see and do.",
  fields: (t) => ({
    role: t.exposeString('role', { description: 'The role pgscope connects as.' }),
    superuser: t.exposeBoolean('isSuperuser', { description: 'The role is a superuser.' }),
    readAllStats: t.exposeBoolean('canReadAllStats', {
      description: "Member of pg_read_all_stats: sees other roles' statements and activity.",
    }),
    monitor: t.exposeBoolean('isMonitor', { description: 'Member of pg_monitor (the least privilege pgscope needs for full reads).' }),
    createSchema: t.exposeBoolean('canCreateSchema', {
      description: 'May create (or already has) the pgscope schema for the change log and history.',
    }),
  }),
});

const DegradedFeatureRef = builder.objectRef<DegradedFeature>('DegradedFeature').implement({
  description: 'A feature that answers with less data, or with an error, on this target; and how to fix that.',
  fields: (t) => ({
    feature: t.exposeString('feature', { description: 'The API field or feature concerned, e.g. "slowQueries".' }),
    reason: t.exposeString('reason', { description: 'Why it is degraded.' }),
    remedy: t.exposeString('remedy', { description: 'What to run or change to restore it.' }),
  }),
});

const CapabilitiesRef = builder.objectRef<Capabilities>('Capabilities').implement({
  description: 'What the target database offers pgscope, detected from the catalog (refreshed at most every minute).',
  fields: (t) => ({
    serverVersion: t.exposeString('serverVersion', { description: 'PostgreSQL version, e.g. "18.4".' }),
    serverVersionNum: t.exposeInt('serverVersionNum', { description: 'Numeric version, e.g. 180004.' }),
    database: t.exposeString('database', { description: 'The target database.' }),
    pgStatStatements: t.expose('pgStatStatements', { type: ExtensionStatus, description: 'pg_stat_statements in this database.' }),
    pgStatStatementsPreloaded: t.exposeBoolean('pgStatStatementsPreloaded', {
      nullable: true,
      description: 'pg_stat_statements is in shared_preload_libraries; null when the role may not read that setting.',
    }),
    pgStatStatementsReadable: t.exposeBoolean('pgStatStatementsReadable', {
      description: 'The pg_stat_statements view answers (library loaded and extension installed): slowQueries works.',
    }),
    hypopg: t.expose('hypopg', { type: ExtensionStatus, description: 'HypoPG (hypothetical indexes for what-if costing).' }),
    hypopgCanHideIndexes: t.exposeBoolean('hypopgCanHideIndexes', {
      description: "HypoPG's hypopg_hide_index exists (absent in 1.3.1), so existing indexes can be hidden in what-if plans.",
    }),
    extensions: t.expose('extensions', { type: [Extension], description: 'Every extension installed in this database, by name.' }),
    privileges: t.field({ type: Privileges, description: "The role's privileges.", resolve: (caps) => caps }),
    readOnlyReplica: t.exposeBoolean('readOnlyReplica', {
      description:
        'The target is a read-only replica (a hot standby, pg_is_in_recovery()): reads work, mutations and history are refused ' +
        '(FORBIDDEN, reason READ_ONLY_REPLICA). Point DATABASE_URL at the primary to make changes.',
    }),
    mutationsEnabled: t.boolean({
      description:
        'An admin token is configured and the target accepts writes (not a read-only replica), so mutations can run (with that token).',
      resolve: (caps, __, ctx) => ctx.config.adminToken !== undefined && !caps.readOnlyReplica,
    }),
    degraded: t.field({
      type: [DegradedFeatureRef],
      description: 'Features that are degraded on this target, each with its reason and remedy. Empty when all is available.',
      resolve: (caps, _, ctx) =>
        degradedFeatures(caps, { mutationsEnabled: ctx.config.adminToken !== undefined, ownSchemaReady: ctx.ownSchemaReady }),
    }),
  }),
});

builder.queryField('capabilities', (t) =>
  t.field({
    extensions: READ_CACHE,
    type: CapabilitiesRef,
    description: 'Server version, extensions, privileges, and which fields are degraded and why, so a client can adapt.',
    resolve: (_, __, ctx) => ctx.capabilities(),
  }),
);
