import type { AckResponse, ErrorCode } from '../../contracts/index.js';

/** A refused request: `code` is the contract's (`forbidden`, `not_joined`, `rate_limited`…). */
export class BridgeClientError extends Error {
  override name = 'BridgeClientError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Codes worth retrying later: the same request may succeed then. The others will not change by waiting. */
export function isTransient(code: ErrorCode): boolean {
  return code === 'rate_limited' || code === 'unavailable' || code === 'internal';
}

/** The result of a successful ack without its `ok`, or a BridgeClientError carrying the failure's code. */
export function unwrap<T extends object>(response: AckResponse<T>): T {
  if (!response.ok) throw new BridgeClientError(response.error.code, response.error.message);
  const { ok: _ok, ...result } = response;
  return result as unknown as T;
}
