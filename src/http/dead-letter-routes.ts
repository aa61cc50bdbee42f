import { zValidator } from '@hono/zod-validator';
import { Hono, type MiddlewareHandler } from 'hono';
import { DeadLetterListQuery, DeadLetterReplayBody, issueText } from '../../contracts/index.js';
import type { DeadLetters } from '../broker/dead-letters.js';
import { BridgeError } from '../errors.js';
import { requireAdmin, type AuthEnv } from './auth.js';
import { jsonBody } from './json-body.js';
import { fail, ok } from './respond.js';

export interface DeadLetterRouteDeps {
  deadLetters: Pick<DeadLetters, 'list' | 'replay'>;
  deadLetterQueue: string;
  brokerConnected(): boolean;
  authenticate: MiddlewareHandler<AuthEnv>;
}

const invalid = (issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>) => {
  const issue = issues[0];
  return issue ? issueText(issue, '', 'input') : 'invalid input';
};

/** Operators' routes over the dead-letter queue: list it, and replay it to the exchange. Admin only. */
export function deadLetterRoutes(deps: DeadLetterRouteDeps) {
  const app = new Hono<AuthEnv>();
  const requireBroker: MiddlewareHandler<AuthEnv> = async (_c, next) => {
    if (!deps.brokerConnected()) throw new BridgeError('unavailable', 'the broker is unreachable');
    await next();
  };
  // requireAdmin also puts every request here on the audit trail.
  for (const path of ['/dead-letters', '/dead-letters/*']) app.use(path, deps.authenticate, requireAdmin, requireBroker);

  app.get(
    '/dead-letters',
    zValidator('query', DeadLetterListQuery, (result, c) => {
      if (!result.success) return fail(c, 'invalid_payload', invalid(result.error.issues));
    }),
    async (c) => {
      const { total, messages } = await deps.deadLetters.list(c.req.valid('query').limit);
      return ok(c, { queue: deps.deadLetterQueue, total, messages });
    },
  );

  app.post(
    '/dead-letters/replay',
    jsonBody(DeadLetterReplayBody),
    async (c) => ok(c, await deps.deadLetters.replay(c.req.valid('json').limit)),
  );

  return app;
}
