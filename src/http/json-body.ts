import { zValidator } from '@hono/zod-validator';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { z } from 'zod';
import { issueText } from '../../contracts/index.js';
import { BridgeError } from '../errors.js';
import type { AuthEnv } from './auth.js';
import { SAFE_METHODS } from './cross-site.js';
import { fail } from './respond.js';

// As Hono's JSON validator reads it: `application/json`, `application/<x>+json`, any parameters.
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

const mediaTypeOf = (c: Context) => c.req.header('content-type')?.split(';')[0]?.trim();

/** Whether the request declares a JSON body. */
export function declaresJson(c: Context): boolean {
  const type = mediaTypeOf(c);
  return type !== undefined && JSON_MEDIA_TYPE.test(type);
}

const refuse = (c: Context) =>
  new BridgeError('unsupported_media_type', `the body must be application/json, not ${(mediaTypeOf(c) ?? 'untyped').slice(0, 100)}`);

/**
 * App-wide: a state-changing request that carries a body, or declares one, must declare JSON (415
 * otherwise). Hono's JSON validator reads any other body as `{}`, and a foreign page can send
 * text/plain, form and multipart bodies without a CORS preflight.
 */
export const jsonBodiesOnly = createMiddleware<AuthEnv>(async (c, next) => {
  if (SAFE_METHODS.has(c.req.method)) return next();
  const hasBody = c.req.header('content-length') !== undefined && c.req.header('content-length') !== '0';
  const declared = c.req.header('content-type') !== undefined;
  if ((hasBody || declared || c.req.header('transfer-encoding') !== undefined) && !declaresJson(c)) throw refuse(c);
  await next();
});

/**
 * Validates a route's JSON body: a request that does not declare JSON (no Content-Type included) is
 * 415, a failure of the schema `invalid_payload` naming the first bad field.
 */
export const jsonBody = <S extends z.ZodType>(schema: S) =>
  zValidator('json', schema, (result, c) => {
    // The validator has read a non-JSON body as `{}`: that must not reach a schema of optional fields.
    if (!declaresJson(c)) throw refuse(c);
    if (result.success) return;
    const issue = result.error.issues[0];
    return fail(c, 'invalid_payload', issue ? issueText(issue, '', 'body') : 'invalid body');
  });
