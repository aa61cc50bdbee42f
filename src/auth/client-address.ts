import { BlockList, isIPv4, isIPv6, SocketAddress } from 'node:net';

/** One `TRUST_PROXY` entry: an address, or a CIDR block (`10.0.0.0/8`, `fd00::/8`). */
export interface ProxyRange {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Finds the client behind trusted proxies: (TCP peer, X-Forwarded-For) → the address limits key on. */
export type ClientAddressOf = (peer: string | undefined, forwardedFor: string | string[] | undefined) => string | undefined;

const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * The one spelling of an address, so that one client has one key: an IPv4-mapped IPv6 address as
 * IPv4, IPv6 lower-case and compressed. Undefined for anything that is not an IP address.
 */
export function normalizeAddress(raw: string): string | undefined {
  const address = raw.trim();
  const mapped = MAPPED_IPV4.exec(address)?.[1];
  if (mapped !== undefined && isIPv4(mapped)) return mapped;
  if (isIPv4(address)) return address;
  // A zone index (`fe80::1%eth0`) names an interface of the host, not a client.
  if (isIPv6(address) && !address.includes('%')) return new SocketAddress({ address, family: 'ipv6' }).address;
  return undefined;
}

/** Parses one entry; throws an Error whose message says what is wrong with it. */
export function parseProxyRange(entry: string): ProxyRange {
  const [base = '', prefixText, extra] = entry.trim().split('/');
  const address = normalizeAddress(base);
  if (address === undefined || extra !== undefined) throw new Error(`"${entry.trim().slice(0, 60)}" is not an IP address or CIDR block`);
  const family = isIPv4(address) ? 'ipv4' : 'ipv6';
  const max = family === 'ipv4' ? 32 : 128;
  // A mapped IPv4 address given with an IPv6 prefix length (::ffff:10.0.0.0/104) means its IPv4 block.
  const mappedBias = family === 'ipv4' && base.includes(':') ? 96 : 0;
  if (prefixText === undefined) return { address, prefix: max, family };
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) - mappedBias : NaN;
  if (!(prefix >= 0 && prefix <= max)) throw new Error(`"${entry.trim().slice(0, 60)}" has a prefix length outside 0–${max + mappedBias}`);
  return { address, prefix, family };
}

/** Parses a comma-separated `TRUST_PROXY` value (empty entries are ignored). */
export function parseTrustProxy(list: string): ProxyRange[] {
  return list
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map(parseProxyRange);
}

/** One `X-Forwarded-For` element: a bare address, or one with a port as some proxies write it. */
function forwardedAddress(element: string): string | undefined {
  const text = element.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text)?.[1];
  if (bracketed !== undefined) return normalizeAddress(bracketed);
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(text)?.[1];
  return normalizeAddress(v4WithPort ?? text);
}

/**
 * The client's address for limits and audit lines. An untrusted peer is the client, whatever it
 * sends. A trusted proxy's `X-Forwarded-For` is read from the right: each trusted hop appended the
 * address it saw, so the right-most address that is not itself a trusted proxy is the client; what
 * lies left of it was written by the client and may be anything. An element that is not an address
 * cannot come from a trusted hop: the walk stops there, at the last trusted address it passed.
 */
export function clientAddressOf(ranges: readonly ProxyRange[]): ClientAddressOf {
  const trusted = new BlockList();
  for (const range of ranges) trusted.addSubnet(range.address, range.prefix, range.family);
  const isTrusted = (address: string) => trusted.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  return (peer, forwardedFor) => {
    if (peer === undefined) return undefined;
    const from = normalizeAddress(peer) ?? peer;
    if (ranges.length === 0 || !isTrusted(from) || forwardedFor === undefined) return from;
    const elements = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let client = from;
    for (let i = elements.length - 1; i >= 0; i--) {
      const hop = forwardedAddress(elements[i]!);
      if (hop === undefined) break;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
}
