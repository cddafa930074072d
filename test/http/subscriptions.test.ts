// Live dashboards (issue 15): poolStatus, activity and changeProgress as subscriptions over
// Server-Sent Events, with their interval bounded and their streams bounded per client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateOwnSchema } from '../../src/db/migrate.js';
import { Database } from '../../src/db/pool.js';
import { LiveStreams } from '../../src/live.js';
import { createTestApp, createTestDatabase, TEST_ADMIN_TOKEN, testConfig, type TestApp, type TestDatabase } from '../harness/database.js';
import { waitFor } from '../harness/waitFor.js';

const READ_TOKEN = 'test-read-token-0123456789';
/** Short intervals keep the test fast; the default floor (1000 ms) is checked on its own. */
const FAST = { PGSCOPE_SUBSCRIPTION_MIN_INTERVAL_MS: '100', PGSCOPE_MAX_SUBSCRIPTIONS_PER_CLIENT: '2' };

let target: TestDatabase;
let api: TestApp;
let live: LiveStreams;

beforeAll(async () => {
  target = await createTestDatabase('subscriptions');
  const owner = new Database(target.url, { applicationName: 'pgscope-test', pool: testConfig().pool });
  expect(await migrateOwnSchema(owner)).toMatchObject({ ok: true });
  await owner.end();
  await target.sql(
    'CREATE TABLE orders (id int PRIMARY KEY, customer int); INSERT INTO orders SELECT g, g % 100 FROM generate_series(1, 20000) g',
  );
  live = new LiveStreams(testConfig(FAST).subscriptions);
  api = createTestApp(target.url, { ownSchemaReady: true, env: FAST, live });
});

afterAll(async () => {
  await api.close();
  await target.drop();
});

interface GqlEvent {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** An open event stream: its events as they come, and a way to leave. */
interface Stream {
  status: number;
  contentType: string | null;
  /** The next `count` GraphQL results, or all of them up to the end of the stream when it ends first. */
  take(count: number): Promise<GqlEvent[]>;
  /** Reads until the server ends the stream; every result that came. */
  rest(): Promise<GqlEvent[]>;
  close(): Promise<void>;
}

async function subscribe(
  app: TestApp,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<Stream> {
  const abort = new AbortController();
  const response = await app.app.fetch('http://localhost/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
    signal: abort.signal,
  });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let ended = false;
  /** The next "next" event, or null at the end of the stream ("complete" or the body's end). */
  const next = async (): Promise<GqlEvent | null> => {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (\w+)$/m.exec(block)?.[1];
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trim())
          .join('\n');
        if (event === 'complete') {
          ended = true;
          return null;
        }
        if (event === 'next' || (event === undefined && data)) return JSON.parse(data) as GqlEvent;
        continue; // a keep-alive comment
      }
      if (ended) return null;
      const chunk = await reader.read();
      if (chunk.done) {
        ended = true;
        return null;
      }
      buffer += chunk.value;
    }
  };
  const stream: Stream = {
    status: response.status,
    contentType: response.headers.get('content-type'),
    async take(count) {
      const events: GqlEvent[] = [];
      while (events.length < count) {
        const event = await next();
        if (!event) break;
        events.push(event);
      }
      return events;
    },
    rest: () => stream.take(Number.POSITIVE_INFINITY),
    async close() {
      abort.abort();
      await reader.cancel().catch(() => undefined);
    },
  };
  return stream;
}

/** Waits until the process holds `count` streams open (a stream is released when its client leaves). */
async function openStreams(count: number): Promise<void> {
  for (let i = 0; i < 200 && live.open !== count; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(live.open).toBe(count);
}

describe('subscription poolStatus', () => {
  it('sends the pool now and then every intervalMs, over text/event-stream', async () => {
    const stream = await subscribe(
      api,
      'subscription Pool { poolStatus(intervalMs: 100) { max total waiting server { maxConnections } } }',
    );
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    const started = performance.now();
    const events = await stream.take(3);
    const elapsed = performance.now() - started;
    await stream.close();
    expect(events).toHaveLength(3);
    for (const event of events) {
      expect(event.errors).toBeUndefined();
      expect(event.data?.poolStatus).toMatchObject({ max: 4, waiting: 0, server: { maxConnections: expect.any(Number) } });
    }
    // three reads, two intervals between them
    expect(elapsed).toBeGreaterThanOrEqual(190);
    await openStreams(0);
  });

  it('refuses an interval below PGSCOPE_SUBSCRIPTION_MIN_INTERVAL_MS with BAD_USER_INPUT, before any event', async () => {
    const stream = await subscribe(api, 'subscription { poolStatus(intervalMs: 50) { max } }');
    const events = await stream.rest();
    expect(events).toHaveLength(1);
    expect(events[0]!.errors?.[0]).toMatchObject({
      message: 'intervalMs must be a whole number from 100 to 3600000, got 50.',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    await openStreams(0);
  });

  it('keeps going when a read fails: that event carries the error, the next one reads again', async () => {
    const down = createTestApp('postgresql://nobody@127.0.0.1:1/none', { env: { ...FAST, PGSCOPE_POOL_CONNECTION_TIMEOUT_MS: '500' } });
    try {
      const stream = await subscribe(down, 'subscription { poolStatus(intervalMs: 100) { max server { maxConnections } } }');
      const events = await stream.take(2);
      await stream.close();
      expect(events).toHaveLength(2);
      for (const event of events) expect(event.errors?.[0]?.extensions?.code).toBe('DATABASE_UNAVAILABLE');
      // the message is pgscope's own: no connection string
      expect(JSON.stringify(events)).not.toContain('nobody@');
    } finally {
      await down.close();
    }
  });
});

describe('the bounds of a client', () => {
  it('holds at most PGSCOPE_MAX_SUBSCRIPTIONS_PER_CLIENT streams; one more is TOO_MANY_SUBSCRIPTIONS until one closes', async () => {
    const first = await subscribe(api, 'subscription { poolStatus(intervalMs: 1000) { max } }');
    const second = await subscribe(api, 'subscription { poolStatus(intervalMs: 1000) { max } }');
    await Promise.all([first.take(1), second.take(1)]);
    const third = await subscribe(api, 'subscription { poolStatus(intervalMs: 1000) { max } }');
    const refused = await third.rest();
    expect(refused[0]?.errors?.[0]?.extensions).toMatchObject({
      code: 'TOO_MANY_SUBSCRIPTIONS',
      limit: 'PGSCOPE_MAX_SUBSCRIPTIONS_PER_CLIENT',
    });
    await first.close();
    await openStreams(1);
    const again = await subscribe(api, 'subscription { poolStatus(intervalMs: 1000) { max } }');
    expect((await again.take(1))[0]?.data).toEqual({ poolStatus: { max: 4 } });
    await Promise.all([second.close(), again.close()]);
    await openStreams(0);
  });

  it('needs the read token like any read when PGSCOPE_READ_TOKEN is set', async () => {
    const guarded = createTestApp(target.url, { env: { ...FAST, PGSCOPE_READ_TOKEN: READ_TOKEN } });
    try {
      const refused = await subscribe(guarded, 'subscription { poolStatus { max } }');
      expect((await refused.rest())[0]?.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      const allowed = await subscribe(guarded, 'subscription { poolStatus { max } }', {}, { authorization: `Bearer ${READ_TOKEN}` });
      expect((await allowed.take(1))[0]?.data).toEqual({ poolStatus: { max: 4 } });
      await allowed.close();
    } finally {
      await guarded.close();
    }
  });

  it('ends every stream at shutdown (closeAll) and refuses new ones', async () => {
    const own = new LiveStreams(testConfig(FAST).subscriptions);
    const app = createTestApp(target.url, { env: FAST, live: own });
    try {
      const stream = await subscribe(app, 'subscription { poolStatus(intervalMs: 60000) { max } }');
      expect(await stream.take(1)).toHaveLength(1);
      own.closeAll();
      // the stream ends now, not after the 60 s interval
      expect(await stream.rest()).toEqual([]);
      expect(own.open).toBe(0);
      const late = await subscribe(app, 'subscription { poolStatus { max } }');
      expect((await late.rest())[0]?.errors?.[0]?.extensions?.code).toBe('DATABASE_UNAVAILABLE');
    } finally {
      await app.close();
    }
  });
});

describe('subscription activity', () => {
  it('lists the sessions again at every event, with the query filter arguments', async () => {
    const sleeper = new Database(target.url, { applicationName: 'live-sleeper', pool: testConfig().pool });
    // cancelled at the end of the test: its rejection is expected, handled from the start
    const sleeping = sleeper.query('SELECT pg_sleep(3)').catch(() => undefined);
    try {
      await waitFor(
        'the sleeper',
        async () =>
          (await target.sql("SELECT FROM pg_stat_activity WHERE application_name = 'live-sleeper' AND wait_event = 'PgSleep'")).length > 0,
      );
      const stream = await subscribe(
        api,
        'subscription ($app: String) { activity(applicationName: $app, intervalMs: 100) { applicationName state } }',
        { app: 'live-sleeper' },
      );
      const events = await stream.take(2);
      await stream.close();
      for (const event of events) expect(event.data?.activity).toEqual([{ applicationName: 'live-sleeper', state: 'ACTIVE' }]);
    } finally {
      await target.sql("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'live-sleeper'");
      await sleeping;
      await sleeper.end();
    }
  });

  it('checks its filter before the first event', async () => {
    const stream = await subscribe(api, 'subscription { activity(limit: 0) { pid } }');
    expect((await stream.rest())[0]?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses a NUL character in its arguments before the first event', async () => {
    const stream = await subscribe(api, 'subscription { activity(applicationName: "app\\u0000") { pid } }');
    const [event] = await stream.rest();
    expect(event?.errors?.[0]).toMatchObject({
      message: 'Argument applicationName contains a NUL character (\\u0000), which PostgreSQL text cannot hold.',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect(event?.data).toBeUndefined();
  });
});

describe('subscription changeProgress', () => {
  it("follows an index build started with wait: false, its build's progress included, and ends with its final state", async () => {
    const writer = new Database(target.url, { applicationName: 'pgscope-test-writer', pool: testConfig().pool });
    try {
      const events = await writer.withClient(async (client) => {
        // an open writing transaction holds the concurrent build in its first wait
        await client.query('BEGIN');
        await client.query('INSERT INTO orders VALUES (0, 0)');
        const started = await api.gql<{ applyIndex: { change: { id: string; status: string } } }>(
          'mutation { applyIndex(input: { table: "orders", columns: [{ column: "customer" }], dryRun: false, wait: false }) { change { id status } } }',
          {},
          { token: TEST_ADMIN_TOKEN },
        );
        const change = started.data!.applyIndex.change;
        expect(change.status).toBe('RUNNING');
        const stream = await subscribe(
          api,
          'subscription ($id: ID!) { changeProgress(id: $id, intervalMs: 100) { id status indexBuild { phase } } }',
          { id: change.id },
        );
        const first = await stream.take(3);
        await client.query('COMMIT');
        return [...first, ...(await stream.rest())];
      });
      const last = events.at(-1)!.data!.changeProgress as { status: string; indexBuild: unknown };
      expect(last).toMatchObject({ status: 'SUCCEEDED', indexBuild: null });
      const running = events
        .slice(0, -1)
        .map((event) => event.data!.changeProgress as { status: string; indexBuild: { phase: string } | null });
      expect(running.every((entry) => entry.status === 'RUNNING')).toBe(true);
      expect(running.map((entry) => entry.indexBuild?.phase)).toContain('waiting for writers before build');
      await openStreams(0);
    } finally {
      await writer.end();
    }
  });

  it('is NOT_FOUND at once for an entry that does not exist, BAD_USER_INPUT for an id that is not one', async () => {
    const missing = await subscribe(api, 'subscription { changeProgress(id: "999999") { status } }');
    expect((await missing.rest())[0]?.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const malformed = await subscribe(api, 'subscription { changeProgress(id: "x") { status } }');
    expect((await malformed.rest())[0]?.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    await openStreams(0);
  });
});
