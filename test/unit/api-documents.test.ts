import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { clientEventSchemas, EVENT_TYPES, RejectionReason, serverEventSchemas } from '../../contracts/index.js';
import { apiDocumentsFor, DOCUMENT_FILES, serializeDocument } from '../../src/api-docs/index.js';
import { createTokenVerifier } from '../../src/auth/verify-token.js';
import { loadConfig } from '../../src/config.js';
import { createHttpApp } from '../../src/http/app.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics.js';
import { OpsMonitor } from '../../src/ops/monitor.js';
import { MemoryMembershipStore } from '../../src/state/memory-stores.js';
import { fakeDeadLetters } from '../helpers/fake-dead-letters.js';
import { emptySocketDirectory } from '../helpers/fake-directory.js';
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from '../helpers/tokens.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const defaults = apiDocumentsFor(loadConfig({}));
const asyncApi = defaults.asyncApi as Json;
const openApi = defaults.openApi as Json;

async function asyncApiErrors(document: unknown): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(JSON.stringify(document));
  // Severity 0 is an error; the rest are warnings and hints (one says that 3.1.0 exists).
  return diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('.')}: ${d.message}`);
}

async function openApiErrors(document: unknown): Promise<unknown> {
  const result = await new Validator().validate(structuredClone(document) as Parameters<Validator['validate']>[0]);
  return result.valid ? [] : result.errors;
}

function appWith(env: Record<string, string>) {
  const config = loadConfig(env);
  const metrics = new Metrics(() => 0);
  return createHttpApp({
    sockets: emptySocketDirectory(),
    brokerConnected: () => true,
    uptimeSeconds: () => 1,
    publisher: { publish: async () => ({ eventId: 'e' }) },
    ...fakeDeadLetters(),
    membership: new MemoryMembershipStore(),
    verifyToken: createTokenVerifier({ secret: TEST_SECRET, issuer: TEST_ISSUER, audience: TEST_AUDIENCE }),
    cookieName: config.JWT_COOKIE_NAME,
    corsOrigins: config.FRONTEND_URLS,
    enableTestEndpoints: config.ENABLE_TEST_ENDPOINTS,
    apiDocuments: apiDocumentsFor(config),
    registry: metrics.registry,
    logger: createLogger('silent'),
    ops: new OpsMonitor(metrics),
  });
}

/** `METHOD path` of every route the app answers (middleware, registered for ALL methods, left out). */
const routesOf = (app: ReturnType<typeof appWith>) =>
  new Set(app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`));

const documentedRoutes = (document: Json) =>
  new Set(Object.entries(document.paths as Json).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`)));

describe('the AsyncAPI and OpenAPI documents', () => {
  it('are committed as generated from the contracts (run `npm run docs:api` after changing a contract)', () => {
    for (const key of ['asyncApi', 'openApi'] as const) {
      expect(readFileSync(DOCUMENT_FILES[key], 'utf8'), DOCUMENT_FILES[key]).toBe(serializeDocument(defaults[key]));
    }
  });

  it('the AsyncAPI document is valid AsyncAPI 3.0 for @asyncapi/parser, which does refuse a broken one', async () => {
    expect(asyncApi.asyncapi).toBe('3.0.0');
    expect(await asyncApiErrors(asyncApi)).toEqual([]);
    const broken = structuredClone(asyncApi);
    broken.operations['consume.trip.updated'].action = 'publish';
    expect((await asyncApiErrors(broken)).length).toBeGreaterThan(0);
  }, 30_000);

  it('the AsyncAPI document has every consumed type on its routing key, the upstream event and the dead letters', () => {
    for (const type of [...EVENT_TYPES, 'client.trip.update']) {
      const channel = asyncApi.channels[type];
      expect(channel.address, type).toBe(type);
      expect(channel.bindings.amqp.exchange).toMatchObject({ name: 'group-planner.events', type: 'topic', durable: true });
      expect(asyncApi.components.messages[type].payload.properties.type).toEqual({ type: 'string', const: type });
    }
    expect(asyncApi.operations['publish.client.trip.update'].action).toBe('send');
    expect(asyncApi.operations['consume.trip.created']).toMatchObject({ action: 'receive', bindings: { amqp: { ack: true } } });
    const deadLetters = asyncApi.channels['dead-letters'];
    expect(deadLetters.address).toBe('realtime-bridge.dead-letter');
    expect(deadLetters.bindings.amqp).toMatchObject({ is: 'queue', queue: { name: 'realtime-bridge.dead-letter', durable: true } });
    const headers = asyncApi.components.messages['dead-letter'].headers;
    expect(headers.properties['x-rejection-reason'].enum).toEqual(RejectionReason.options);
  });

  it('the AsyncAPI document has every Socket.IO event both ways, and each client event has its ack as the reply', () => {
    const socket = asyncApi.channels.socket.messages as Json;
    for (const event of Object.keys(clientEventSchemas)) {
      const id = `socket.client.${event.replaceAll(':', '.')}`;
      expect(asyncApi.components.messages[id].name).toBe(event);
      expect(socket[id]).toBeDefined();
      expect(asyncApi.operations[id]).toMatchObject({ action: 'receive', reply: { messages: [{ $ref: `#/channels/socket/messages/${id}.ack` }] } });
      const ack = asyncApi.components.messages[`${id}.ack`].payload;
      expect(ack.anyOf.map((branch: Json) => branch.properties.ok.const)).toEqual([true, false]);
    }
    for (const event of [...Object.keys(serverEventSchemas), 'connect_error']) {
      const id = `socket.server.${event.replaceAll(':', '.')}`;
      expect(asyncApi.components.messages[id].name, event).toBe(event);
      expect(asyncApi.operations[id].action).toBe('send');
    }
  });

  it('the OpenAPI document is valid OpenAPI 3.1 for a validator that does refuse a broken one', async () => {
    expect(openApi.openapi).toBe('3.1.0');
    expect(await openApiErrors(openApi)).toEqual([]);
    const broken = structuredClone(openApi);
    broken.paths['/api/v1/socket/health'].get.responses = 'none';
    expect(await openApiErrors(broken)).not.toEqual([]);
  });

  it('the OpenAPI document has exactly the routes the app answers, with and without the test endpoints', () => {
    const envs: Array<Record<string, string>> = [{}, { ENABLE_TEST_ENDPOINTS: 'false' }];
    for (const env of envs) {
      const app = appWith(env);
      const served = apiDocumentsFor(loadConfig(env)).openApi as Json;
      expect(documentedRoutes(served)).toEqual(routesOf(app));
    }
    expect(documentedRoutes(openApi)).toContain('POST /api/v1/socket/test-trip-update');
    expect(documentedRoutes(apiDocumentsFor(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) })).openApi as Json)).not.toContain(
      'POST /api/v1/socket/test-trip-update',
    );
  });

  it('the OpenAPI document describes bodies, answers and who may call', () => {
    const replay = openApi.paths['/api/v1/socket/dead-letters/replay'].post;
    expect(replay.requestBody.content['application/json'].schema.properties.limit).toMatchObject({ type: 'integer', maximum: 1000 });
    expect(replay.responses['200'].content['application/json'].schema.properties.data.required).toEqual(['replayed', 'unroutable', 'remaining']);
    expect(Object.keys(replay.responses)).toEqual(['200', '400', '401', '403', '415', '503']);
    const health = openApi.paths['/api/v1/socket/health'].get;
    expect(health.security).toEqual([]);
    expect(health.responses['503'].content['application/json'].schema.properties.data.properties.status.enum).toEqual(['ok', 'degraded']);
    const list = openApi.paths['/api/v1/socket/dead-letters'].get;
    expect(list.parameters).toMatchObject([{ name: 'limit', in: 'query', required: false, schema: { type: 'integer', default: 50 } }]);
  });

  it('are served under /api/v1/socket for the running configuration, without the AMQP password', async () => {
    const app = appWith({ AMQP_URL: 'amqp://bridge:s3cret-pw@rabbit.internal:5673', AMQP_EXCHANGE: 'planner.events', AMQP_QUEUE: 'bridge-a' });
    const served = await (await app.request('/api/v1/socket/asyncapi.json')).text();
    expect(served).not.toContain('s3cret-pw');
    const document = JSON.parse(served) as Json;
    expect(document.servers.rabbitmq.host).toBe('rabbit.internal:5673');
    expect(document.channels['trip.updated'].bindings.amqp.exchange.name).toBe('planner.events');
    expect(document.channels['dead-letters'].address).toBe('bridge-a.dead-letter');
    const openApiAnswer = await app.request('/api/v1/socket/openapi.json');
    expect(openApiAnswer.status).toBe(200);
    expect(((await openApiAnswer.json()) as Json).openapi).toBe('3.1.0');
  });
});
