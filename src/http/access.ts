// Who may read pgscope, checked before any GraphQL work: the Host header (DNS rebinding), the
// Origin (CORS grants only to PGSCOPE_CORS_ORIGINS), the body's content type (forms and text/plain
// are "simple" requests any web page can send without a preflight) and the read token.
import { STATUS_CODES } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.js';
import { ErrorCode, PgscopeError } from '../errors.js';
import { bearerToken, mayRead } from './auth.js';
import { hostNameOf, isHostAllowed } from './hosts.js';

/** Paths answered whatever the Host: liveness says nothing but "the process runs" (load balancers probe with any Host). */
const OPEN_PATHS = new Set(['/health']);

/** What a granted cross-origin page may send: a bearer header is how pgscope authenticates, cookies play no part. */
const PREFLIGHT_GRANT = {
  'Access-Control-Allow-Methods': 'GET, POST',
  'Access-Control-Allow-Headers': 'authorization, content-type',
  'Access-Control-Max-Age': '600',
};

type AccessConfig = Pick<Config, 'host' | 'allowedHosts' | 'corsOrigins' | 'readToken' | 'adminToken'>;

export function useAccessControl(config: AccessConfig): Plugin {
  const corsOrigins = new Set(config.corsOrigins.map((origin) => origin.toLowerCase()));
  const granted = (request: Request) => {
    const origin = request.headers.get('origin');
    return origin !== null && corsOrigins.has(origin) ? origin : null;
  };
  return {
    onRequest({ request, url, endResponse }) {
      if (requestHostNames(request).some((value) => hostNameOf(value) === null)) return endResponse(malformedHost());
      if (OPEN_PATHS.has(url.pathname)) return;
      const refusal =
        refuseHost(request, config) ??
        refuseOrigin(request, granted(request)) ??
        (request.method === 'OPTIONS' ? null : refuseContentType(request));
      if (refusal) return endResponse(refusal);
      if (request.method === 'OPTIONS') endResponse(preflight(granted(request)));
    },
    onResponse({ request, response }) {
      if (corsOrigins.size === 0) return;
      // Caches must not hand a response granted to one origin to another.
      response.headers.append('Vary', 'Origin');
      const origin = granted(request);
      if (origin && request.method !== 'OPTIONS') response.headers.set('Access-Control-Allow-Origin', origin);
    },
    onParams({ request }) {
      if (mayRead(request.headers.get('authorization'), config)) return;
      const token = bearerToken(request.headers.get('authorization'));
      throw new PgscopeError(
        ErrorCode.UNAUTHENTICATED,
        `${token ? 'The token is wrong' : 'Reads need a token'}: send the header "Authorization: Bearer <PGSCOPE_READ_TOKEN>" (the admin token also reads).`,
        { http: { status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="pgscope"' } } },
      );
    },
  };
}

/** The request names pgscope's own host (see hosts.ts); yoga.ts also asks before serving GraphiQL. */
export function isForThisServer(request: Request, config: Pick<Config, 'host' | 'allowedHosts'>): boolean {
  const policy = { boundAddress: config.host, allowedHosts: config.allowedHosts };
  return requestHostNames(request).every((value) => {
    const name = hostNameOf(value);
    return name !== null && isHostAllowed(name, policy);
  });
}

/** Both: a request line in absolute form ("GET http://a/ HTTP/1.1") may name another host than the header. */
function requestHostNames(request: Request): string[] {
  return [request.headers.get('host'), new URL(request.url).host].filter((value): value is string => !!value);
}

/**
 * A Host that is no host name at all ("local host", "[::1", 300 characters): a broken client,
 * answered 400 on every path (/health included), as HTTP/1.1 requires (RFC 9112, section 3.2).
 */
export function malformedHost(): Response {
  return refusal(
    400,
    ErrorCode.BAD_USER_INPUT,
    'The request names no valid host (Host header or request line): send the name (and port) it is for, e.g. "Host: localhost:4000".',
    {
      reason: 'MALFORMED_HOST',
    },
  );
}

/** A Host that is not pgscope's own: the request came through a name pgscope does not answer to. */
function refuseHost(request: Request, config: AccessConfig): Response | null {
  if (isForThisServer(request, config)) return null;
  return refusal(421, ErrorCode.FORBIDDEN, 'This host name is not allowed. Add it to PGSCOPE_ALLOWED_HOSTS to serve requests for it.', {
    reason: 'HOST_NOT_ALLOWED',
  });
}

/**
 * A browser marks every cross-origin request with Origin (and same-origin POSTs with their own).
 * Refusing the ones neither same-origin nor granted keeps other web pages from even making pgscope
 * work (a GET needs no preflight), besides not letting them read the answer.
 */
function refuseOrigin(request: Request, grantedOrigin: string | null): Response | null {
  const origin = request.headers.get('origin');
  if (origin === null || grantedOrigin !== null || sameHost(origin, request)) return null;
  // A preflight is answered (without a grant) so the browser reports a CORS failure, not a network error.
  if (request.method === 'OPTIONS') return preflight(null);
  return refusal(
    403,
    ErrorCode.FORBIDDEN,
    "Cross-origin requests are refused: list the page's origin in PGSCOPE_CORS_ORIGINS to allow it.",
    {
      reason: 'ORIGIN_NOT_ALLOWED',
    },
  );
}

/** The page was served by pgscope itself (GraphiQL): its origin names the host the request is for. Schemes may differ behind a TLS proxy. */
function sameHost(origin: string, request: Request): boolean {
  const host = request.headers.get('host') ?? new URL(request.url).host;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false; // "null" (sandboxed frames, file: pages) and other opaque origins
  }
}

/** GraphQL bodies must be JSON: a preflight then guards every cross-origin POST. */
function refuseContentType(request: Request): Response | null {
  if (request.method !== 'POST') return null;
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json' || type === 'application/graphql+json') return null;
  return refusal(415, ErrorCode.BAD_USER_INPUT, 'POST bodies must be JSON: send the header "Content-Type: application/json".', {
    reason: 'UNSUPPORTED_MEDIA_TYPE',
  });
}

function preflight(grantedOrigin: string | null): Response {
  const grant = grantedOrigin ? { ...PREFLIGHT_GRANT, 'Access-Control-Allow-Origin': grantedOrigin } : {};
  // Safari waits for a body on a 204 without Content-Length.
  return new Response(null, { status: 204, headers: { 'Content-Length': '0', ...grant } });
}

function refusal(status: number, code: ErrorCode, message: string, details: Record<string, unknown>): Response {
  return Response.json({ errors: [{ message, extensions: { code, ...details } }] }, { status, statusText: STATUS_CODES[status] });
}
