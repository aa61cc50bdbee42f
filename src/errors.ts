import { StoreUnavailableError } from './state/stores.js';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorBody, ErrorCode } from '../contracts/index.js';

/** A failure with a code from the contract's closed union; anything else becomes `internal`. */
export class BridgeError extends Error {
  override name = 'BridgeError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const HTTP_STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_payload: 400,
  unauthorized: 401,
  forbidden: 403,
  not_joined: 403,
  not_found: 404,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
};

/** The HTTP status for a code: the one table both transports share. */
export function httpStatusOf(code: ErrorCode): ContentfulStatusCode {
  return HTTP_STATUS[code];
}

/** Turns any thrown value into the body clients see; internal details are never exposed. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof BridgeError) return { code: err.code, message: err.message };
  if (err instanceof StoreUnavailableError) return { code: 'unavailable', message: 'shared state is unreachable; retry shortly' };
  return { code: 'internal', message: 'internal error' };
}
