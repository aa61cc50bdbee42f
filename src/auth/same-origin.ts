/** The port each scheme an `Origin` may carry stands for when it names none. */
const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'ws:': 80, 'https:': 443, 'wss:': 443 };

// An Origin is `scheme://host[:port]` and a Host header `host[:port]`, nothing more: anything else
// (userinfo, a path, a second value joined by a comma, `null`) is not a place and never matches.
// Hosts are ASCII (browsers send IDNs as punycode) or a bracketed IPv6 address.
const HOST_PORT = String.raw`(?:\[[0-9a-f:.]+\]|[a-z0-9._~-]+)(?::\d{1,5})?`;
const ORIGIN_SHAPE = new RegExp(String.raw`^(?:https?|wss?)://${HOST_PORT}$`, 'i');
const HOST_SHAPE = new RegExp(`^${HOST_PORT}$`, 'i');

function parse(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

const portOf = (url: URL) => (url.port === '' ? DEFAULT_PORTS[url.protocol] : Number(url.port));

/**
 * Whether `origin` names the server the request reached: its host and port equal the `Host` header's.
 * A Host without a port stands for the default port of the origin's scheme, as clients behind a TLS
 * proxy send it. The URL parser makes both sides canonical: lowercase, IPv6 compressed, default port.
 */
export function namesServerItself(origin: string, host: string | undefined): boolean {
  if (host === undefined || !ORIGIN_SHAPE.test(origin) || !HOST_SHAPE.test(host)) return false;
  const from = parse(origin);
  const to = from && parse(`${from.protocol}//${host}`);
  return !!from && !!to && from.hostname === to.hostname && portOf(from) === portOf(to);
}

/** Whether an `Origin` may act with a user's credentials: a page in the allow-list (FRONTEND_URLS), or the server itself. */
export function originPolicy(allowList: string[]): (origin: string, host: string | undefined) => boolean {
  // Built once, and a bad URL fails here rather than on a request.
  const allowed = new Set(allowList.map((url) => new URL(url).origin));
  return (origin, host) => allowed.has(origin) || namesServerItself(origin, host);
}
