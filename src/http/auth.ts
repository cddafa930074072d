// Bearer tokens: the admin token (mutations, admin-only fields, reads) and the read token (reads).
import { timingSafeEqual } from 'node:crypto';
import type { Credential } from '../config.js';

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

export function credentialOf(
  header: string | null,
  tokens: { adminToken?: string | undefined; readToken?: string | undefined },
): Credential {
  const token = bearerToken(header);
  if (!token) return 'none';
  if (tokenMatches(token, tokens.adminToken)) return 'admin';
  if (tokenMatches(token, tokens.readToken)) return 'read';
  return 'unknown';
}

/** Whether a request with this Authorization header may read: any request when no read token is set, else one with the read or admin token. */
export function mayRead(header: string | null, tokens: { adminToken?: string | undefined; readToken?: string | undefined }): boolean {
  if (!tokens.readToken) return true;
  const credential = credentialOf(header, tokens);
  return credential === 'read' || credential === 'admin';
}
