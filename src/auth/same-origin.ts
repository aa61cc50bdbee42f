const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i;

/**
 * Whether an `Origin` names the server the request reached: its host and port equal the `Host`
 * header's. The scheme is not compared, since a proxy in front may end TLS; a `Host` without a port
 * matches an Origin on its scheme's default port. `null` and anything unparsable never match.
 */
export function originMatchesHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  const match = HOST_HEADER.exec(host.trim());
  if (!match) return false;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  // URL.port is '' on the scheme's default port, as a Host header usually is.
  const [, hostname, port = ''] = match;
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  const samePort = url.port === port || (url.port === '' && port === defaultPort);
  return samePort && url.hostname === hostname!.toLowerCase();
}
