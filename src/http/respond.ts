import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ErrorCode } from '../../contracts/index.js';
import { httpStatusOf } from '../errors.js';

/** `{ success: true, data }` with a status (200 unless told). */
export function ok<T>(c: Context, data: T, status: ContentfulStatusCode = 200): Response {
  return c.json({ success: true, data }, status);
}

/** `{ success: false, error: { code, message } }` with the code's status. */
export function fail(c: Context, code: ErrorCode, message: string): Response {
  return c.json({ success: false, error: { code, message } }, httpStatusOf(code));
}
