import { describe, it, expect } from 'vitest';
import { ErrorCode } from '../../contracts/index.js';
import { BridgeError, httpStatusOf, toErrorBody } from '../../src/errors.js';

describe('httpStatusOf', () => {
  const expected = {
    invalid_payload: 400,
    unauthorized: 401,
    forbidden: 403,
    not_joined: 403,
    not_found: 404,
    unsupported_media_type: 415,
    rate_limited: 429,
    unavailable: 503,
    internal: 500,
  } as const;

  it('has a status for exactly the codes of the contract', () => {
    expect([...ErrorCode.options].sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected) as [ErrorCode, number][])('maps %s to %i', (code, status) => {
    expect(httpStatusOf(code)).toBe(status);
  });
});

describe('toErrorBody', () => {
  it('passes a BridgeError code and message through', () => {
    expect(toErrorBody(new BridgeError('forbidden', 'not a member of trip t1'))).toEqual({
      code: 'forbidden',
      message: 'not a member of trip t1',
    });
  });

  it.each([
    ['an Error', new Error('ECONNREFUSED 10.0.0.5:5672 password=hunter2')],
    ['a TypeError', new TypeError("Cannot read properties of undefined (reading 'secret')")],
    ['a string', 'db password hunter2'],
    ['an object with code and message', { code: 'forbidden', message: 'hunter2' }],
    ['undefined', undefined],
  ])('turns %s into internal without leaking its message', (_what, err) => {
    const body = toErrorBody(err);
    expect(body).toEqual({ code: 'internal', message: 'internal error' });
    expect(JSON.stringify(body)).not.toContain('hunter2');
  });
});
