import { describe, it, expect } from 'vitest';
import { extractToken, type TokenSources } from '../../src/auth/extract-token.js';

const COOKIE = 'access_token';
const extract = (sources: TokenSources) => extractToken(sources, COOKIE);

describe('extractToken', () => {
  describe('reads each source alone', () => {
    it('auth.token', () => {
      expect(extract({ auth: { token: 'from-auth' } })).toBe('from-auth');
    });

    it('the Authorization Bearer header', () => {
      expect(extract({ authorization: 'Bearer from-header' })).toBe('from-header');
    });

    it('the token query parameter', () => {
      expect(extract({ query: 'from-query' })).toBe('from-query');
    });

    it('the named cookie', () => {
      expect(extract({ cookie: 'access_token=from-cookie' })).toBe('from-cookie');
    });
  });

  it('returns undefined when no source has a token', () => {
    expect(extract({})).toBeUndefined();
    expect(extract({ auth: {}, authorization: undefined, query: undefined, cookie: undefined })).toBeUndefined();
  });

  describe('precedence: auth.token > Bearer header > query > cookie', () => {
    const all: TokenSources = {
      auth: { token: 'from-auth' },
      authorization: 'Bearer from-header',
      query: 'from-query',
      cookie: 'access_token=from-cookie',
    };

    it('prefers auth.token over everything', () => {
      expect(extract(all)).toBe('from-auth');
    });

    it('prefers the header over the query and the cookie', () => {
      expect(extract({ ...all, auth: undefined })).toBe('from-header');
    });

    it('prefers the query over the cookie', () => {
      expect(extract({ ...all, auth: undefined, authorization: undefined })).toBe('from-query');
    });
  });

  describe('an empty or invalid value falls through to the next source', () => {
    it.each([
      ['an empty auth.token', ''],
      ['a numeric auth.token', 42],
      ['a null auth.token', null],
      ['an object auth.token', { value: 'x' }],
    ])('%s', (_what, token) => {
      expect(extract({ auth: { token }, authorization: 'Bearer from-header' })).toBe('from-header');
    });

    it.each([null, 'a string', 7, undefined])('an auth that is %j', (auth) => {
      expect(extract({ auth, query: 'from-query' })).toBe('from-query');
    });

    it.each([
      ['an empty header', ''],
      ['Bearer with no token', 'Bearer '],
      ['Bearer alone', 'Bearer'],
      ['Bearer with two words', 'Bearer a b'],
    ])('%s', (_what, authorization) => {
      expect(extract({ authorization, query: 'from-query' })).toBe('from-query');
    });

    it('an empty query', () => {
      expect(extract({ query: '', cookie: 'access_token=from-cookie' })).toBe('from-cookie');
    });

    it('an empty cookie value', () => {
      expect(extract({ cookie: 'access_token=' })).toBeUndefined();
    });
  });

  it.each(['Basic dXNlcjpwYXNz', 'Token abc', 'abc', 'Bearerabc'])('ignores the non-Bearer Authorization %j', (header) => {
    expect(extract({ authorization: header })).toBeUndefined();
    expect(extract({ authorization: header, cookie: 'access_token=from-cookie' })).toBe('from-cookie');
  });

  it('accepts the Bearer scheme in any case and with surrounding spaces', () => {
    expect(extract({ authorization: 'bearer abc' })).toBe('abc');
    expect(extract({ authorization: 'BEARER   abc  ' })).toBe('abc');
  });

  it('finds the named cookie among others', () => {
    expect(extract({ cookie: 'theme=dark; access_token=from-cookie; lang=en' })).toBe('from-cookie');
  });

  it('ignores cookies with other names, including ones that only start like it', () => {
    expect(extract({ cookie: 'theme=dark; access_token_old=stale; refresh_token=r' })).toBeUndefined();
  });

  it('reads the cookie name it is given', () => {
    expect(extractToken({ cookie: 'access_token=a; jwt=b' }, 'jwt')).toBe('b');
  });

  it('takes the first value of an array query', () => {
    expect(extract({ query: ['first', 'second'] })).toBe('first');
  });

  it('falls through an array query whose first value is empty', () => {
    expect(extract({ query: [''], cookie: 'access_token=from-cookie' })).toBe('from-cookie');
    expect(extract({ query: [], cookie: 'access_token=from-cookie' })).toBe('from-cookie');
  });
});
