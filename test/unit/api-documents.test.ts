import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import {
  CloudEventEnvelope,
  clientEventSchemas,
  EVENT_TYPES,
  eventDataSchemas,
  RejectionReason,
  serverEventSchemas,
  TestNotificationBody,
  type EventType,
} from '../../contracts/index.js';
import { apiDocumentsFor, DOCUMENT_FILES, lazyApiDocuments, serializeDocument } from '../../src/api-docs/index.js';
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
    apiDocuments: lazyApiDocuments(config),
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

/**
 * A valid `data` of each consumed type, and changes that each make it invalid (or keep it valid). Not
 * among them: a `notification.created` naming no recipient, which only zod's refinement refuses (the
 * documents say it in the schema's description).
 */
const SAMPLES: Record<EventType, { valid: Json; variants: Json[] }> = {
  'trip.created': { valid: { tripId: 'trip-1', trip: { name: 'Alps' } }, variants: [{ trip: [] }, { actorId: '' }, { extra: 1 }] },
  'trip.updated': { valid: { tripId: 'trip-1', changes: { name: 'Alps' }, updatedBy: 'u-1' }, variants: [{ tripId: 'trip 1' }, { changes: null }, { updatedBy: 'x'.repeat(129) }] },
  'trip.deleted': { valid: { tripId: 'trip-1' }, variants: [{ tripId: 7 }, { tripId: 'a'.repeat(128) }, { tripId: 'a'.repeat(129) }] },
  'trip.member.added': { valid: { tripId: 't', userId: 'u@x' }, variants: [{ userId: undefined }, { userId: 'ü' }] },
  'trip.member.removed': { valid: { tripId: 't', userId: 'u' }, variants: [{ actorId: 'a:b' }, { actorId: 'a b' }] },
  'trip.activity': { valid: { tripId: 't', kind: 'vote', payload: {} }, variants: [{ kind: '' }, { kind: 'k'.repeat(65) }, { payload: 'x' }] },
  'notification.created': {
    valid: { userId: 'u', notification: { type: 'info', title: 'Hi', message: '' } },
    variants: [
      { notification: { type: 'fatal', title: 'Hi', message: '' } },
      { notification: { type: 'info', title: '', message: '' } },
      { userIds: Array.from({ length: 1001 }, (_, i) => `u${i}`) },
      { userIds: ['a', 'b c'] },
    ],
  },
  'notification.broadcast': { valid: { notification: { type: 'error', title: 'T', message: 'm'.repeat(2000) } }, variants: [{ notification: { type: 'error', title: 'T', message: 'm'.repeat(2001) } }] },
};

const envelope = (type: string, data: unknown, extra: Json = {}) => ({ specversion: '1.0', id: 'evt-1', source: 'trip-service', type, time: '2026-11-25T10:00:00Z', data, ...extra });

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

  it("the AsyncAPI messages' JSON Schemas accept and refuse the same events as the zod contracts", () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    let checked = 0;
    for (const type of EVENT_TYPES) {
      const validate = ajv.compile(asyncApi.components.messages[type].payload);
      const { valid, variants } = SAMPLES[type];
      const events = [
        envelope(type, valid),
        ...variants.map((change) => envelope(type, { ...valid, ...change })),
        envelope(type, valid, { specversion: '0.3' }),
        envelope(type, valid, { time: 'yesterday' }),
        envelope(type, valid, { id: '' }),
        envelope('trip.other', valid),
      ];
      for (const event of events) {
        const parsed = CloudEventEnvelope.safeParse(event);
        const zodSays = parsed.success && parsed.data.type === type && eventDataSchemas[type].safeParse(parsed.data.data).success;
        expect(validate(event), `${type}: ${JSON.stringify(event).slice(0, 200)}`).toBe(zodSays);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(60);
    expect(asyncApi.components.messages['notification.created'].payload.properties.data.description).toContain('userId, or a non-empty userIds');
  });

  it('the OpenAPI body schemas accept and refuse the same bodies as the zod contracts', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const schema = openApi.paths['/api/v1/socket/test-notification'].post.requestBody.content['application/json'].schema;
    const validate = ajv.compile(schema);
    const bodies = [
      { title: 'Hi', message: 'there' },
      { userId: 'u-1', type: 'warning', title: 'Hi', message: '', data: { a: 1 } },
      { title: '', message: 'x' },
      { title: 'Hi' },
      { title: 'Hi', message: 'x', type: 'loud' },
      { title: 'Hi', message: 'x', userId: 'no spaces allowed' },
      { title: 'Hi', message: 'x', data: [1] },
    ];
    for (const body of bodies) expect(validate(body), JSON.stringify(body)).toBe(TestNotificationBody.safeParse(body).success);
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
