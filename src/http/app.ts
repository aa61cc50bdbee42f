import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import type { Registry } from 'prom-client';
import type { ApiDocuments } from '../api-docs/index.js';
import { createAudit, type Audit } from '../auth/audit.js';
import type { ClientAddressOf } from '../auth/client-address.js';
import type { VerifyToken } from '../auth/verify-token.js';
import { BridgeError, toErrorBody } from '../errors.js';
import type { Logger } from '../logger.js';
import { apiDocRoutes } from './api-doc-routes.js';
import { auditTrail, resolveClientAddress } from './audit.js';
import { requireUser, type AuthEnv } from './auth.js';
import { crossSiteGuard } from './cross-site.js';
import { deadLetterRoutes, type DeadLetterRouteDeps } from './dead-letter-routes.js';
import { jsonBodiesOnly } from './json-body.js';
import { opsRoutes, type OpsDeps } from './ops-routes.js';
import type { OpsMonitor } from '../ops/monitor.js';
import { opsPageRoutes } from '../ops/page-routes.js';
import { opsLiveRoutes } from '../ops/routes.js';
import { fail } from './respond.js';
import { testRoutes, type TestRouteDeps } from './test-routes.js';

/** Largest HTTP body accepted (the test endpoints' bodies are small JSON documents). */
export const MAX_HTTP_BODY_BYTES = 64 * 1024;

export interface HttpAppDeps
  extends Omit<OpsDeps, 'authenticate'>,
    Omit<TestRouteDeps, 'authenticate'>,
    Omit<DeadLetterRouteDeps, 'authenticate'> {
  verifyToken: VerifyToken;
  cookieName: string;
  corsOrigins: string[];
  /** How to find a request's client address (TRUST_PROXY); the TCP peer's when not given. */
  clientAddress?: ClientAddressOf | undefined;
  enableTestEndpoints: boolean;
  /** Served at `/asyncapi.json` and `/openapi.json` (built when first asked for). */
  apiDocuments: () => ApiDocuments;
  registry: Registry;
  /** The ops page's metrics and streams: given, `/ops` and `/ops/{snapshot,stream}` are served. */
  ops?: OpsMonitor | undefined;
  logger: Logger;
  /** The instance's audit trail (one that only logs when not given). */
  audit?: Audit | undefined;
}

/** The Hono app: `/metrics` at the root and the contract's routes under `/api/v1/socket`. */
export function createHttpApp(deps: HttpAppDeps): Hono<AuthEnv> {
  const log = deps.logger.child({ component: 'http' });
  const authenticate = requireUser(deps.verifyToken, deps.cookieName);
  const app = new Hono<AuthEnv>();

  app.use('*', resolveClientAddress(deps.clientAddress));
  app.use('*', cors({ origin: deps.corsOrigins, credentials: true }));
  app.use('*', auditTrail(deps.audit ?? createAudit(deps.logger)));
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_HTTP_BODY_BYTES,
      onError: (c) => fail(c, 'invalid_payload', `body larger than ${MAX_HTTP_BODY_BYTES} bytes`),
    }),
  );
  // Before any route reads a token or a body: cross-site with the cookie is 403, a non-JSON body 415.
  app.use('*', crossSiteGuard({ allowedOrigins: deps.corsOrigins, cookieName: deps.cookieName }));
  app.use('*', jsonBodiesOnly);

  app.get('/metrics', async (c) => {
    c.header('Content-Type', deps.registry.contentType);
    return c.body(await deps.registry.metrics());
  });

  if (deps.ops) app.route('/', opsPageRoutes());

  const api = new Hono<AuthEnv>();
  api.route('/', opsRoutes({ ...deps, authenticate }));
  api.route('/', deadLetterRoutes({ ...deps, authenticate }));
  if (deps.ops) api.route('/', opsLiveRoutes({ ...deps, ops: deps.ops, authenticate }));
  if (deps.enableTestEndpoints) api.route('/', testRoutes({ ...deps, authenticate }));
  api.route('/', apiDocRoutes(deps.apiDocuments));
  app.route('/api/v1/socket', api);

  app.notFound((c) => fail(c, 'not_found', `no route ${c.req.method} ${c.req.path}`));
  app.onError((err, c) => {
    if (err instanceof BridgeError) return fail(c, err.code, err.message);
    // Hono's own 4xx (malformed JSON in a validated body, for one) are the caller's fault.
    if (err instanceof HTTPException && err.status < 500) return fail(c, 'invalid_payload', err.message);
    log.error({ event: 'http.internal_error', err, path: c.req.path }, 'request failed');
    const body = toErrorBody(err);
    return fail(c, body.code, body.message);
  });
  return app;
}
