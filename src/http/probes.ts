// The probes a load balancer or orchestrator sends, each answered on its exact path:
// - /health: the process runs (200, no body, no database), whatever the Host (access.ts);
// - /ready: every target answers (200, else 503), with each one's state as JSON.
// Yoga's own health check and useReadinessCheck took any URL ending in their path for theirs, a
// query string's too: POST /graphql?from=/health answered 200 with no body instead of running the
// operation. yoga.ts gives Yoga's health check, which cannot be turned off, a path no URL ends with.
import type { Plugin } from 'graphql-yoga';
import type { Context, TargetServices } from '../context.js';
import type { Readiness } from '../db/pool.js';

export function useProbes(targets: ReadonlyMap<string, TargetServices>): Plugin<Context> {
  return {
    onRequest({ url, endResponse }) {
      if (url.pathname === '/health') return endResponse(new Response(null, { status: 200 }));
      if (url.pathname !== '/ready') return;
      return targetsReadiness(targets).then(
        (readiness) => endResponse(Response.json(readiness, { status: readiness.ready ? 200 : 503 })),
        // not the error's message: a connection error's could name the server
        () => endResponse(Response.json({ ready: false }, { status: 503 })),
      );
    },
  };
}

/** /ready: one target's readiness as it is; with several, ready when every one is, each by name. */
async function targetsReadiness(
  targets: ReadonlyMap<string, TargetServices>,
): Promise<Readiness | { ready: boolean; targets: Record<string, Readiness> }> {
  const each = await Promise.all([...targets].map(async ([name, target]) => [name, await target.database.readiness()] as const));
  if (each.length === 1) return each[0]![1];
  return { ready: each.every(([, readiness]) => readiness.ready), targets: Object.fromEntries(each) };
}
