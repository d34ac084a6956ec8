import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { TimeoutError, withTimeout } from '../lifecycle/withTimeout.js';

/**
 * Where notifications may go (SSRF protection). A target is an http(s) URL without credentials. Its host must not
 * be, or resolve to, an address that is private, loopback, link-local (cloud metadata at 169.254.169.254
 * included) or otherwise not on the public internet, unless NOTIFICATION_ALLOWED_HOSTS names the host (or that
 * address). Checked when a subscription is created or changed, and again at every delivery after DNS resolution; the
 * connection then goes to the address that was checked, so a name re-pointed in between (DNS rebinding) cannot
 * reach an internal service.
 */

/** One entry of NOTIFICATION_ALLOWED_HOSTS: a host name or IP literal, lower case, any port when `port` is undefined. */
export type AllowedHost = { readonly host: string; readonly port: number | undefined };

/** A resolved address as dns.lookup gives it. */
export type ResolvedAddress = { address: string; family: number };
/** Resolves a host name to every address it has (dns.lookup with `all`), injectable for tests. */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: HostResolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** Address ranges that are not the public internet, each with the word a refusal uses for it. */
const BLOCKED_RANGES: readonly [network: string, prefix: number, family: 'ipv4' | 'ipv6', label: string][] = [
  ['0.0.0.0', 8, 'ipv4', 'a "this network" address'],
  ['10.0.0.0', 8, 'ipv4', 'a private address'],
  ['100.64.0.0', 10, 'ipv4', 'a shared (carrier-grade NAT) address'],
  ['127.0.0.0', 8, 'ipv4', 'a loopback address'],
  ['169.254.0.0', 16, 'ipv4', 'a link-local address (cloud metadata lives there)'],
  ['172.16.0.0', 12, 'ipv4', 'a private address'],
  ['192.0.0.0', 24, 'ipv4', 'a reserved address'],
  ['192.0.2.0', 24, 'ipv4', 'a documentation address'],
  ['192.88.99.0', 24, 'ipv4', 'a reserved address'],
  ['192.168.0.0', 16, 'ipv4', 'a private address'],
  ['198.18.0.0', 15, 'ipv4', 'a benchmarking address'],
  ['198.51.100.0', 24, 'ipv4', 'a documentation address'],
  ['203.0.113.0', 24, 'ipv4', 'a documentation address'],
  ['224.0.0.0', 4, 'ipv4', 'a multicast address'],
  ['240.0.0.0', 4, 'ipv4', 'a reserved address'],
  // ::/96 holds :: (unspecified), ::1 (loopback) and the deprecated IPv4-compatible forms (::127.0.0.1).
  ['::', 96, 'ipv6', 'a loopback, unspecified or IPv4-compatible address'],
  ['64:ff9b::', 96, 'ipv6', 'a NAT64 address'],
  ['64:ff9b:1::', 48, 'ipv6', 'a NAT64 address'],
  ['100::', 64, 'ipv6', 'a discard address'],
  ['2001::', 23, 'ipv6', 'a reserved (IETF protocol) address'],
  ['2001:db8::', 32, 'ipv6', 'a documentation address'],
  ['2002::', 16, 'ipv6', 'a 6to4 address'],
  ['fc00::', 7, 'ipv6', 'a private (unique local) address'],
  ['fe80::', 10, 'ipv6', 'a link-local address'],
  ['fec0::', 10, 'ipv6', 'a site-local address'],
  ['ff00::', 8, 'ipv6', 'a multicast address'],
];

// One list per label: BlockList answers yes or no, the label says why. IPv4-mapped IPv6 (::ffff:127.0.0.1) is
// checked against the IPv4 ranges by BlockList itself.
const blockLists: readonly [BlockList, string][] = (() => {
  const byLabel = new Map<string, BlockList>();
  for (const [network, prefix, family, label] of BLOCKED_RANGES) {
    const list = byLabel.get(label) ?? new BlockList();
    list.addSubnet(network, prefix, family);
    byLabel.set(label, list);
  }
  return [...byLabel.entries()].map(([label, list]) => [list, label] as [BlockList, string]);
})();

/** Why `address` (an IP literal) is not a public address, or undefined when it is one. */
export const blockedAddressReason = (address: string): string | undefined => {
  const family = isIP(address);
  if (family === 0) return 'not an IP address';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [list, label] of blockLists) if (list.check(address, type)) return label;
  return undefined;
};

/** The host of a URL or an allow-list entry as compared: lower case, IPv6 without brackets, no trailing dot. */
const normalHost = (host: string): string => host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$/;

/**
 * Parses NOTIFICATION_ALLOWED_HOSTS: comma-separated `host` or `host:port` (IPv6 as `[::1]` or `[::1]:8080`).
 * Returns the entries or the problems (never throws), so the config reports them under the variable's name.
 */
export const parseAllowedHosts = (raw: string): { hosts: AllowedHost[]; problems: string[] } => {
  const hosts: AllowedHost[] = [];
  const problems: string[] = [];
  const entries = raw.split(',').map((entry) => entry.trim()).filter((entry) => entry.length > 0);
  entries.forEach((entry, index) => {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::([0-9]{1,5}))?$/.exec(entry);
    // Through the URL parser, as targets are: 0x7f.1 and 127.0.0.1, or [0:0::1] and [::1], are the same entry.
    const written = match?.[1];
    const host = written === undefined || !URL.canParse(`http://${written}/`) ? '' : normalHost(new URL(`http://${written}/`).hostname);
    const port = match?.[2] === undefined ? undefined : Number(match[2]);
    const bracketed = match?.[1]?.startsWith('[') === true;
    const validHost = bracketed ? isIP(host) === 6 : isIP(host) === 4 || HOST_NAME.test(host);
    if (match === null || !validHost) {
      problems.push(`entry ${index + 1} (${entry.slice(0, 80)}) is not host or host:port (IPv6 in brackets: [::1]:8080)`);
    } else if (port !== undefined && (port < 1 || port > 65535)) {
      problems.push(`entry ${index + 1} (${entry.slice(0, 80)}): port must be 1-65535`);
    } else {
      hosts.push({ host, port });
    }
  });
  return { hosts, problems };
};

/** The port a URL connects to (its default when none is written). */
export const effectivePort = (url: URL): number => (url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port));

const allowedBy = (allowed: readonly AllowedHost[], host: string, port: number): boolean =>
  allowed.some((entry) => entry.host === host && (entry.port === undefined || entry.port === port));

const TARGET_MAX_LENGTH = 2048;
/** How long a host may take to resolve when the caller gives no bound. */
const DEFAULT_RESOLVE_TIMEOUT_MS = 5_000;

/**
 * Parses a target URL: http or https only, no user name or password, at most 2048 characters. Returns the URL or
 * why it is refused (for the `url` field's message).
 */
export const parseTargetUrl = (raw: string): { url: URL } | { problem: string } => {
  if (raw.length > TARGET_MAX_LENGTH) return { problem: `must be at most ${TARGET_MAX_LENGTH} characters` };
  if (!URL.canParse(raw)) return { problem: 'must be an absolute http(s) URL' };
  const url = new URL(raw);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: `must be http or https, not ${url.protocol.replace(/:$/, '')}` };
  if (url.username !== '' || url.password !== '') return { problem: 'must not carry a user name or password' };
  if (url.hostname === '') return { problem: 'must name a host' };
  url.hash = '';
  return { url };
};

/** The outcome of vetting a target: the address to connect to, or why not (a DELIVERY_FAILURES code and a message). */
export type TargetVerdict =
  | { ok: true; address: string; family: number }
  | { ok: false; code: 'TARGET_NOT_ALLOWED' | 'DNS_FAILED'; message: string };

/**
 * Decides whether `url` may be reached and at which address. An IP literal is checked as it is; a name is resolved
 * and every address it has must be public (one private address among public ones is refused: it is how a rebinding
 * name looks), unless NOTIFICATION_ALLOWED_HOSTS names the host, or the address, with the URL's port or none. DNS is
 * bounded by `timeoutMs` (default 5 s). Never throws; messages name the host and address, never the path or query
 * (which may hold a secret).
 */
export const vetTarget = async (
  url: URL,
  allowed: readonly AllowedHost[],
  resolve: HostResolver = systemResolver,
  options: { timeoutMs?: number } = {},
): Promise<TargetVerdict> => {
  const timeoutMs = options.timeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS;
  const host = normalHost(url.hostname);
  const port = effectivePort(url);
  const hostAllowed = allowedBy(allowed, host, port);
  const literal = isIP(host);
  let addresses: ResolvedAddress[];
  if (literal !== 0) {
    addresses = [{ address: host, family: literal }];
  } else {
    try {
      // A resolver that does not answer must not hold a request or a delivery: bounded like everything else.
      addresses = await withTimeout(resolve(host), timeoutMs, `resolving ${host}`);
    } catch (error) {
      const code = error instanceof TimeoutError ? `no answer within ${timeoutMs} ms` : (error as { code?: unknown }).code;
      return { ok: false, code: 'DNS_FAILED', message: `${host} does not resolve${typeof code === 'string' ? ` (${code})` : ''}` };
    }
    if (addresses.length === 0) return { ok: false, code: 'DNS_FAILED', message: `${host} has no address` };
  }
  for (const { address } of addresses) {
    const reason = blockedAddressReason(address);
    if (reason !== undefined && !hostAllowed && !allowedBy(allowed, normalHost(address), port)) {
      const via = literal === 0 ? `${host} resolves to ${address}, ` : `${address} is `;
      return {
        ok: false,
        code: 'TARGET_NOT_ALLOWED',
        message: `${via}${reason}; notifications go to public addresses unless NOTIFICATION_ALLOWED_HOSTS names the host (${literal === 6 ? `[${host}]` : host}:${port})`,
      };
    }
  }
  const [first] = addresses as [ResolvedAddress, ...ResolvedAddress[]];
  return { ok: true, address: first.address, family: first.family };
};
