// Which names a request may use to reach pgscope (the Host header), so that a web page cannot reach
// it through DNS rebinding: a name the attacker controls, re-pointed at 127.0.0.1 after the page
// loaded, makes the browser treat pgscope as that page's own origin. A rebinding needs a DNS name,
// so IP literals of this machine and loopback names (which browsers resolve themselves, never
// through DNS) are safe; any other name must be listed in PGSCOPE_ALLOWED_HOSTS.
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { isLoopbackName, unbracket } from '../config.js';

/** The addresses that mean "every interface" when bound. */
const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::', '[::]', '']);

export function isWildcardAddress(address: string): boolean {
  return WILDCARD_ADDRESSES.has(address.trim());
}

/** A DNS name has at most 253 characters (RFC 1035, written without its final dot). */
const LONGEST_NAME = 253;

/**
 * The host name of a Host header value, lower case, without port and IPv6 brackets; null when
 * malformed: spaces, an unclosed bracket, characters no host name has, longer than a DNS name.
 */
export function hostNameOf(header: string): string | null {
  const value = header.trim().toLowerCase();
  const bracketed = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed) return isIP(bracketed[1]!) === 6 ? bracketed[1]! : null;
  const plain = /^([a-z0-9_.-]+)(?::\d{1,5})?$/.exec(value);
  const name = plain ? plain[1]!.replace(/\.$/, '') : undefined;
  return name && name.length <= LONGEST_NAME ? name : null;
}

export interface HostPolicy {
  /** The HTTP bind address (config.host). */
  boundAddress: string;
  /** config.allowedHosts, lower case. */
  allowedHosts: readonly string[];
}

/**
 * Whether a request for `hostName` (from hostNameOf) is for pgscope itself: a loopback name, a name
 * in PGSCOPE_ALLOWED_HOSTS, the bound address, or, when bound to every interface (0.0.0.0 / ::),
 * an IP address of this machine (what a client that reaches pgscope by address sends).
 */
export function isHostAllowed(hostName: string, policy: HostPolicy): boolean {
  if (isLoopbackName(hostName) || policy.allowedHosts.includes(hostName)) return true;
  const bound = unbracket(policy.boundAddress.trim().toLowerCase());
  if (!isWildcardAddress(policy.boundAddress)) return hostName === bound;
  // Read on each request: DHCP, VPNs and containers add addresses while pgscope runs.
  return isIP(hostName) !== 0 && machineAddresses().has(hostName);
}

function machineAddresses(): Set<string> {
  const addresses = Object.values(networkInterfaces()).flatMap((infos) => (infos ?? []).map((info) => info.address.toLowerCase()));
  // Link-local IPv6 addresses carry a zone (fe80::1%eth0) that a Host header cannot.
  return new Set(addresses.map((address) => address.replace(/%.*$/, '')));
}
