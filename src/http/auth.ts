// Bearer tokens: the admin token (mutations, admin-only fields, reads) and the read token (reads).
import { timingSafeEqual } from 'node:crypto';
import { ErrorCode, PgscopeError } from '../errors.js';

/** The token of an "Authorization: Bearer <token>" header; undefined for any other header or none. */
export function bearerToken(header: string | null): string | undefined {
  if (!header) return undefined;
  return /^Bearer\s+(.+)$/i.exec(header.trim())?.[1];
}

/** Constant-time comparison, so response timing does not reveal how much of a guess was right. */
export function tokenMatches(given: string | undefined, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  // Lengths differ: compare b with itself anyway, so this path costs what a full comparison costs.
  return a.length === b.length ? timingSafeEqual(a, b) : !timingSafeEqual(b, b);
}

/** Which of pgscope's tokens a request carried, by name (what the change log records, never the secret). */
export type Credential = 'admin' | 'read' | 'unknown' | 'none';

export function credentialOf(header: string | null, tokens: { adminToken?: string | undefined; readToken?: string | undefined }): Credential {
  const token = bearerToken(header);
  if (!token) return 'none';
  if (tokenMatches(token, tokens.adminToken)) return 'admin';
  if (tokenMatches(token, tokens.readToken)) return 'read';
  return 'unknown';
}

const SEND_ADMIN_TOKEN = 'send the header "Authorization: Bearer <PGSCOPE_ADMIN_TOKEN>"';

/**
 * Why a request may not run a mutation or an admin-only field. No admin token configured: the
 * feature is switched off (FORBIDDEN, with how to switch it on). Otherwise the request did not
 * prove it is the admin (UNAUTHENTICATED): no token, a wrong one, or the read token, which
 * authenticates reads only.
 */
export function adminRefusal(adminToken: string | undefined, credential: Credential): PgscopeError {
  if (!adminToken) {
    return new PgscopeError(
      ErrorCode.FORBIDDEN,
      'Mutations and admin-only fields are disabled: no admin token is configured. Set PGSCOPE_ADMIN_TOKEN ' +
        `(16+ characters, e.g. from openssl rand -hex 24), restart pgscope, and ${SEND_ADMIN_TOKEN}.`,
      { reason: 'MUTATIONS_DISABLED' },
    );
  }
  const why = {
    admin: 'This needs the admin token',
    none: 'This needs the admin token',
    unknown: 'The token is not the admin token',
    read: 'The read token only reads; this needs the admin token',
  }[credential];
  return new PgscopeError(ErrorCode.UNAUTHENTICATED, `${why}: ${SEND_ADMIN_TOKEN}.`);
}
