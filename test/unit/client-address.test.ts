import { describe, expect, it } from 'vitest';
import { clientAddressOf, normalizeAddress, parseProxyRange, parseTrustProxy } from '../../src/auth/client-address.js';

describe('normalizeAddress', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:10.1.2.3', '10.1.2.3'],
    ['2001:DB8:0:0::1', '2001:db8::1'],
    ['::1', '::1'],
    [' 10.0.0.1 ', '10.0.0.1'],
  ])('%s is %s', (raw, expected) => {
    expect(normalizeAddress(raw)).toBe(expected);
  });

  it.each(['', 'unknown', '1.2.3', '300.1.1.1', 'fe80::1%eth0', '10.0.0.1:80', 'example.com'])('%j is not an address', (raw) => {
    expect(normalizeAddress(raw)).toBeUndefined();
  });
});

describe('parseTrustProxy', () => {
  it('reads addresses and CIDR blocks of both families, with spaces and empty entries', () => {
    expect(parseTrustProxy(' 127.0.0.1, 10.0.0.0/8,,::1 , fd00::/8, ::ffff:192.168.0.0/112')).toEqual([
      { address: '127.0.0.1', prefix: 32, family: 'ipv4' },
      { address: '10.0.0.0', prefix: 8, family: 'ipv4' },
      { address: '::1', prefix: 128, family: 'ipv6' },
      { address: 'fd00::', prefix: 8, family: 'ipv6' },
      { address: '192.168.0.0', prefix: 16, family: 'ipv4' },
    ]);
  });

  it.each(['nginx', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '10.0.0.0/', '10.0.0.0/8/8', '10.0.0.0/a', '1.2.3.4.5', 'loopback'])(
    'refuses %j, naming it',
    (entry) => {
      expect(() => parseProxyRange(entry)).toThrow(entry.split('/')[0]!.slice(0, 10));
    },
  );
});

describe('the client address behind trusted proxies', () => {
  const behindLocalProxy = clientAddressOf(parseTrustProxy('127.0.0.1'));

  it('is the TCP peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const untrusting = clientAddressOf([]);
    expect(untrusting('127.0.0.1', '203.0.113.9')).toBe('127.0.0.1');
    expect(untrusting('::ffff:127.0.0.1', '203.0.113.9')).toBe('127.0.0.1');
  });

  it('ignores the X-Forwarded-For of a peer that is not a trusted proxy (a client spoofing the header)', () => {
    expect(behindLocalProxy('198.51.100.4', '203.0.113.9')).toBe('198.51.100.4');
    expect(behindLocalProxy('198.51.100.4', '127.0.0.1')).toBe('198.51.100.4');
  });

  it('takes the address a trusted proxy appended', () => {
    expect(behindLocalProxy('127.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
  });

  it('matches an IPv4-mapped IPv6 peer (a dual-stack listener) against an IPv4 entry', () => {
    expect(behindLocalProxy('::ffff:127.0.0.1', '203.0.113.9')).toBe('203.0.113.9');
  });

  it('takes the right-most untrusted address: what the client prepended is ignored', () => {
    expect(behindLocalProxy('127.0.0.1', '1.1.1.1, 6.6.6.6, 203.0.113.9')).toBe('203.0.113.9');
    // A client claiming to be a trusted proxy gains nothing: the proxy's own entry comes after.
    expect(behindLocalProxy('127.0.0.1', '127.0.0.1, 203.0.113.9')).toBe('203.0.113.9');
  });

  it('walks a chain of trusted proxies, given as several headers or one list', () => {
    const chain = clientAddressOf(parseTrustProxy('10.0.0.0/8, 127.0.0.1'));
    expect(chain('127.0.0.1', '6.6.6.6, 203.0.113.9, 10.1.0.5, 10.2.0.7')).toBe('203.0.113.9');
    expect(chain('127.0.0.1', ['6.6.6.6, 203.0.113.9', '10.1.0.5', '10.2.0.7'])).toBe('203.0.113.9');
  });

  it('takes the left-most address when every hop is a trusted proxy', () => {
    const chain = clientAddressOf(parseTrustProxy('10.0.0.0/8'));
    expect(chain('10.0.0.1', '10.0.0.3, 10.0.0.2')).toBe('10.0.0.3');
  });

  it('stops at an element that is no address, keeping the last trusted hop', () => {
    const chain = clientAddressOf(parseTrustProxy('10.0.0.0/8'));
    expect(chain('10.0.0.1', 'unknown')).toBe('10.0.0.1');
    expect(chain('10.0.0.1', '203.0.113.9, garbage, 10.0.0.2')).toBe('10.0.0.2');
    expect(chain('10.0.0.1', '')).toBe('10.0.0.1');
    expect(chain('10.0.0.1', undefined)).toBe('10.0.0.1');
  });

  it('reads IPv6 clients and proxies, bracketed or not, with ports, in one spelling', () => {
    const v6 = clientAddressOf(parseTrustProxy('::1, fd00::/8'));
    expect(v6('::1', '2001:DB8::0:1')).toBe('2001:db8::1');
    expect(v6('::1', '[2001:db8::1]:4711, fd00::5')).toBe('2001:db8::1');
    expect(v6('fd12::1', '203.0.113.9:5000')).toBe('203.0.113.9');
    expect(v6('::ffff:127.0.0.1', '203.0.113.9')).toBe('127.0.0.1');
  });

  it('gives the mapped and plain spelling of one client one key', () => {
    expect(behindLocalProxy('127.0.0.1', '::ffff:203.0.113.9')).toBe('203.0.113.9');
  });

  it('has nothing to say without a peer', () => {
    expect(behindLocalProxy(undefined, '203.0.113.9')).toBeUndefined();
  });
});
