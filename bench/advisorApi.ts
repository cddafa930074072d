// pgscope's advisor as a client sees it: an in-process app (no port, as bench/tables.ts) with an
// admin token, the schema read by introspection so that the advisor section runs before (and
// whatever) the advisor's fields exist: indexRecommendations, applyRecommendation, and optional
// fields asked for only when the schema has them.
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config.js';
import { CapabilitiesCache } from '../src/db/capabilities.js';
import { migrateOwnSchema } from '../src/db/migrate.js';
import { Database } from '../src/db/pool.js';
import { createApp } from '../src/yoga.js';
import { RequestLog } from '../src/http/requestLog.js';
import { ConstantSamples, startSampling } from '../src/advisor/analysis/samples.js';

/** The contract the section is written against (DESIGN.md, issue 7); the rest is optional. */
const REQUIRED_FIELDS = ['id', 'schema', 'table', 'sql', 'sizeBytes', 'source'];

export interface Recommendation {
  id: string;
  schema: string;
  table: string;
  sql: string;
  sizeBytes: string | number | null;
  source: string;
}

export interface AdvisorSchema {
  /** Why recommendations cannot be asked for, or undefined when they can. */
  recommendationsMissing: string | undefined;
  /** Why recommendations cannot be applied, or undefined when they can. */
  applyMissing: string | undefined;
  /** Arguments applyRecommendation takes (wait: true is passed when it exists). */
  applyArgs: Set<string>;
  /**
   * The payload's scalar fields, and those of its object fields one level down (change, index,
   * statements ... as the schema has them), selected for the log line of each apply.
   */
  applySelection: string;
}

export interface AdvisorClient {
  schema: AdvisorSchema;
  recommendations(): Promise<{ list: Recommendation[]; sqlStatements: number }>;
  apply(id: string): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

interface TypeRef {
  kind: string;
  name: string | null;
  ofType: TypeRef | null;
}
interface FieldInfo {
  name: string;
  args: Array<{ name: string }>;
  type: TypeRef;
}

const INTROSPECTION = /* GraphQL */ `
  query AdvisorSchema {
    __schema {
      queryType { name }
      mutationType { name }
      types {
        name
        fields { name args { name } type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }
      }
    }
  }`;

/** Starts the app on `url` (migrating pgscope's own schema, for the change log applyRecommendation writes). */
export async function startAdvisorClient(url: string): Promise<AdvisorClient> {
  const token = randomBytes(24).toString('hex');
  const config = loadConfig({
    PGSCOPE_ADMIN_TOKEN: token,
    PGSCOPE_POOL_MIN: '0',
    PGSCOPE_POOL_MAX: '4',
    // The advisor plans hundreds of statements in one request: the read timeout must not cut it short.
    PGSCOPE_STATEMENT_TIMEOUT_MS: '600000',
  });
  const database = new Database(url, { applicationName: 'pgscope-bench-advisor', pool: config.pool });
  const migration = await migrateOwnSchema(database);
  const capabilities = new CapabilitiesCache(database);
  // As the server does (src/index.ts): the constants the mix runs with, sampled while it runs. The
  // advisor runs after one half of (a), 13 s in which the mix runs about 200 statements on primary
  // keys only: every 100 ms catches nearly each execution once, as a server sampling every 5 s
  // (the default) would over an hour (BENCH_ADVISOR_SAMPLE_INTERVAL_MS; 0: only the advisor's own look).
  const constantSamples = new ConstantSamples();
  const sampleEveryMs = Number(process.env.BENCH_ADVISOR_SAMPLE_INTERVAL_MS ?? 100);
  const sampler = startSampling(database, () => capabilities.get(), constantSamples, sampleEveryMs / 1000);
  const app = createApp(
    { config, database, capabilities, ownSchemaReady: migration.ok, constantSamples },
    { logging: false, requestLog: new RequestLog(config.log, { write: () => undefined }) },
  );

  const gql = async <T>(query: string, variables: Record<string, unknown> = {}) => {
    const response = await app.fetch('http://127.0.0.1/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as {
      data?: T;
      errors?: Array<{ message: string; extensions?: { code?: string } }>;
      extensions?: { sqlStatements?: number };
    };
    if (body.errors?.length) {
      throw new Error(`GraphQL errors: ${body.errors.map((e) => `${e.extensions?.code ?? 'ERROR'}: ${e.message}`).join('; ')}`);
    }
    return { data: body.data as T, sqlStatements: body.extensions?.sqlStatements ?? Number.NaN };
  };

  const schema = readAdvisorSchema((await gql<{ __schema: IntrospectedSchema }>(INTROSPECTION)).data.__schema);
  // Capabilities are detected on first use: not inside the timed indexRecommendations request.
  await gql('query Warm { capabilities { serverVersion } }');
  const applyArgs = [...schema.applyArgs].filter((arg) => arg === 'wait');
  return {
    schema,
    async recommendations() {
      if (schema.recommendationsMissing) throw new Error(schema.recommendationsMissing);
      const { data, sqlStatements } = await gql<{ indexRecommendations: Recommendation[] }>(
        `query Recommend { indexRecommendations { ${REQUIRED_FIELDS.join(' ')} } }`,
      );
      return { list: data.indexRecommendations, sqlStatements };
    },
    async apply(id) {
      if (schema.applyMissing) throw new Error(schema.applyMissing);
      const extra = applyArgs.map((arg) => `, ${arg}: true`).join('');
      const { data } = await gql<{ applyRecommendation: Record<string, unknown> }>(
        `mutation Apply($id: ID!) { applyRecommendation(id: $id, dryRun: false${extra}) { ${schema.applySelection} } }`,
        { id },
      );
      return data.applyRecommendation;
    },
    close: () => {
      sampler.stop();
      return database.end();
    },
  };
}

export interface IntrospectedSchema {
  queryType: { name: string };
  mutationType: { name: string } | null;
  types: Array<{ name: string; fields: FieldInfo[] | null }>;
}

export function readAdvisorSchema(introspected: IntrospectedSchema): AdvisorSchema {
  const fieldsOf = (typeName: string | null | undefined) => introspected.types.find((t) => t.name === typeName)?.fields ?? [];
  const query = fieldsOf(introspected.queryType.name).find((f) => f.name === 'indexRecommendations');
  const mutation = fieldsOf(introspected.mutationType?.name).find((f) => f.name === 'applyRecommendation');
  let recommendationsMissing: string | undefined;
  if (!query) recommendationsMissing = 'indexRecommendations is not in the schema yet';
  else {
    const present = new Set(fieldsOf(namedType(query.type)).map((f) => f.name));
    const absent = REQUIRED_FIELDS.filter((name) => !present.has(name));
    if (absent.length > 0) recommendationsMissing = `IndexRecommendation lacks ${absent.join(', ')}`;
  }
  const isLeaf = (f: FieldInfo) => f.args.length === 0 && ['SCALAR', 'ENUM'].includes(innerKind(f.type));
  const leaves = (typeName: string | null) =>
    fieldsOf(typeName)
      .filter(isLeaf)
      .map((f) => f.name);
  const payload = mutation ? fieldsOf(namedType(mutation.type)) : [];
  const parts = payload.flatMap((f) => {
    if (isLeaf(f)) return [f.name];
    const inner = f.args.length === 0 ? leaves(namedType(f.type)) : [];
    return inner.length > 0 ? [`${f.name} { ${inner.join(' ')} }`] : [];
  });
  return {
    recommendationsMissing,
    applyMissing: mutation ? undefined : 'applyRecommendation is not in the schema yet',
    applyArgs: new Set(mutation?.args.map((a) => a.name) ?? []),
    applySelection: parts.length > 0 ? parts.join(' ') : '__typename',
  };
}

const namedType = (type: TypeRef): string | null => (type.ofType ? namedType(type.ofType) : type.name);
const innerKind = (type: TypeRef): string => (type.ofType ? innerKind(type.ofType) : type.kind);
