import { z } from 'zod';
import {
  BroadcastBody,
  ConnectionInfo,
  DeadLetterList,
  DeadLetterListQuery,
  DeadLetterReplayBody,
  DegradedHealthResponse,
  ErrorResponse,
  EventAccepted,
  HealthData,
  OpsSnapshot,
  ReplayOutcome,
  RoomInfo,
  StatsData,
  SuccessResponse,
  TestNotificationBody,
  TestTripUpdateBody,
} from '../../contracts/index.js';
import { jsonSchemaOf } from './json-schema.js';
import { API_VERSION, ref } from './shared.js';

/** Who may call a route: anyone, any user with a valid token, or an admin (`role: "admin"`). */
type Caller = 'anyone' | 'user' | 'admin';

const API_PREFIX = '/api/v1/socket';

interface RouteDoc {
  method: 'get' | 'post';
  path: string;
  summary: string;
  caller: Caller;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The successful answer: its status and the schema of `data` (or of the whole body for `raw`). */
  ok: { status: 200 | 202; data?: z.ZodType; contentType?: string; description?: string };
  /** Failure statuses beyond those implied by the caller and the body. */
  failures?: number[];
  /** Present only while ENABLE_TEST_ENDPOINTS is on. */
  testEndpoint?: boolean;
}

/** The HTTP routes, in the order the reference lists them. */
const ROUTES: RouteDoc[] = [
  {
    method: 'get',
    path: `${API_PREFIX}/health`,
    summary: 'Whether this instance reaches the broker (and Redis, when configured); 503 while it does not.',
    caller: 'anyone',
    ok: { status: 200, data: HealthData },
    failures: [503],
  },
  {
    method: 'get',
    path: `${API_PREFIX}/stats`,
    summary: 'Sockets, users, rooms and broker counters, summed over every instance.',
    caller: 'admin',
    ok: { status: 200, data: StatsData },
  },
  {
    method: 'get',
    path: `${API_PREFIX}/rooms`,
    summary: '`trip:` and `user:` rooms with their sockets across all instances.',
    caller: 'admin',
    ok: { status: 200, data: z.array(RoomInfo) },
  },
  {
    method: 'get',
    path: `${API_PREFIX}/my-connections`,
    summary: "The caller's own sockets, on every instance.",
    caller: 'user',
    ok: { status: 200, data: z.array(ConnectionInfo) },
  },
  {
    method: 'post',
    path: `${API_PREFIX}/test-notification`,
    summary: 'Publish `notification.created` through RabbitMQ; another `userId` than the caller is admin only.',
    caller: 'user',
    body: TestNotificationBody,
    ok: { status: 202, data: EventAccepted },
    failures: [429, 503],
    testEndpoint: true,
  },
  {
    method: 'post',
    path: `${API_PREFIX}/test-trip-update`,
    summary: 'Publish `trip.updated` through RabbitMQ, for a trip the caller may join.',
    caller: 'user',
    body: TestTripUpdateBody,
    ok: { status: 202, data: EventAccepted },
    failures: [403, 429, 503],
    testEndpoint: true,
  },
  {
    method: 'post',
    path: `${API_PREFIX}/broadcast`,
    summary: 'Publish `notification.broadcast` through RabbitMQ.',
    caller: 'admin',
    body: BroadcastBody,
    ok: { status: 202, data: EventAccepted },
    failures: [429, 503],
    testEndpoint: true,
  },
  {
    method: 'get',
    path: `${API_PREFIX}/dead-letters`,
    summary: 'The oldest dead letters with their reasons, left in the queue (addition, issue 6).',
    caller: 'admin',
    query: DeadLetterListQuery,
    ok: { status: 200, data: DeadLetterList },
    failures: [400, 503],
  },
  {
    method: 'post',
    path: `${API_PREFIX}/dead-letters/replay`,
    summary: 'Publish the oldest dead letters back to the exchange with their original routing keys (addition).',
    caller: 'admin',
    body: DeadLetterReplayBody,
    ok: { status: 200, data: ReplayOutcome },
    failures: [503],
  },
  {
    method: 'get',
    path: `${API_PREFIX}/asyncapi.json`,
    summary: 'The AsyncAPI 3.0 document of the queue and socket sides (addition).',
    caller: 'anyone',
    ok: { status: 200, contentType: 'application/json', description: 'The AsyncAPI document' },
  },
  {
    method: 'get',
    path: `${API_PREFIX}/openapi.json`,
    summary: 'This document (addition).',
    caller: 'anyone',
    ok: { status: 200, contentType: 'application/json', description: 'The OpenAPI document' },
  },
  {
    method: 'get',
    path: `${API_PREFIX}/ops/snapshot`,
    summary: "The ops page's figures now: sockets and rooms of every instance, this instance's rates, lag and state (addition).",
    caller: 'admin',
    ok: { status: 200, data: OpsSnapshot },
  },
  {
    method: 'get',
    path: `${API_PREFIX}/ops/stream`,
    summary:
      'Server-sent events: `snapshot` every second with the data of `/ops/snapshot`, `problem` when one tick fails. ' +
      '429 while 8 streams are open on the instance (addition).',
    caller: 'admin',
    ok: { status: 200, contentType: 'text/event-stream', description: 'An endless event stream' },
    failures: [429],
  },
  {
    method: 'get',
    path: '/ops',
    summary: 'The live operations page; the admin token is pasted into it and sent as a bearer header (addition).',
    caller: 'anyone',
    ok: { status: 200, contentType: 'text/html', description: 'The page' },
  },
  { method: 'get', path: '/ops/app.js', summary: "The ops page's script.", caller: 'anyone', ok: { status: 200, contentType: 'text/javascript' } },
  { method: 'get', path: '/ops/style.css', summary: "The ops page's style sheet.", caller: 'anyone', ok: { status: 200, contentType: 'text/css' } },
  { method: 'get', path: '/ops/favicon.svg', summary: "The ops page's icon.", caller: 'anyone', ok: { status: 200, contentType: 'image/svg+xml' } },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics of this instance.',
    caller: 'anyone',
    ok: { status: 200, contentType: 'text/plain', description: 'The Prometheus text format' },
  },
];

const STATUS_TEXT: Record<number, string> = {
  400: 'invalid_payload: the body or the query does not match the contract',
  401: 'unauthorized: no token, or one that does not verify',
  403: 'forbidden: not allowed for this caller, or a cookie-authenticated cross-site request',
  415: 'unsupported_media_type: a body that is not application/json',
  429: 'rate_limited',
  503: 'unavailable: the broker (or Redis) is unreachable',
};

const schemaOf = (schema: z.ZodType, io: 'input' | 'output') => jsonSchemaOf(schema, { target: 'draft-2020-12', io });

function failureStatuses(route: RouteDoc): number[] {
  const statuses = new Set(route.failures ?? []);
  if (route.caller !== 'anyone') statuses.add(401);
  if (route.caller === 'admin') statuses.add(403);
  if (route.body) statuses.add(400).add(415);
  return [...statuses].sort((a, b) => a - b);
}

function operationOf(route: RouteDoc) {
  const responses: Record<string, unknown> = {};
  const { ok } = route;
  responses[ok.status] = ok.data
    ? {
        description: ok.status === 202 ? 'Accepted: the broker confirmed the event' : 'OK',
        content: { 'application/json': { schema: schemaOf(SuccessResponse(ok.data), 'output') } },
      }
    : { description: ok.description ?? 'OK', content: { [ok.contentType ?? 'application/json']: {} } };
  for (const status of failureStatuses(route)) {
    const degraded = route.path === `${API_PREFIX}/health` && status === 503;
    responses[status] = {
      description: degraded ? 'degraded: the broker or Redis is unreachable' : STATUS_TEXT[status],
      content: { 'application/json': { schema: degraded ? schemaOf(DegradedHealthResponse, 'output') : ref('components', 'schemas', 'ErrorResponse') } },
    };
  }
  return {
    summary: route.summary,
    ...(route.caller === 'admin' ? { description: 'Admin only: a token with `role: "admin"`.' } : {}),
    ...(route.caller === 'anyone' ? { security: [] } : {}),
    ...(route.query
      ? {
          parameters: Object.entries(route.query.shape).map(([name, schema]) => ({
            name,
            in: 'query',
            required: !(schema as z.ZodType).safeParse(undefined).success,
            schema: schemaOf(schema as z.ZodType, 'input'),
          })),
        }
      : {}),
    ...(route.body
      ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(route.body, 'input') } } } }
      : {}),
    responses,
  };
}

export interface OpenApiOptions {
  /** ENABLE_TEST_ENDPOINTS: the three test routes are documented only when they exist. */
  testEndpoints: boolean;
  /** JWT_COOKIE_NAME. */
  cookieName: string;
}

/** The OpenAPI 3.1 document of the HTTP routes, built from the zod contracts. */
export function openApiDocument(options: OpenApiOptions): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    if (route.testEndpoint && !options.testEndpoints) continue;
    (paths[route.path] ??= {})[route.method] = operationOf(route);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Group Planner realtime bridge: HTTP API',
      version: API_VERSION,
      description:
        'Every answer is `{ success: true, data }` or `{ success: false, error: { code, message } }`. Generated from ' +
        'the zod contracts in `contracts/`.',
    },
    servers: [{ url: 'http://localhost:3000', description: 'A local instance (PORT)' }],
    security: [{ bearer: [] }, { cookie: [] }],
    paths,
    components: {
      schemas: { ErrorResponse: schemaOf(ErrorResponse, 'output') },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        cookie: { type: 'apiKey', in: 'cookie', name: options.cookieName },
      },
    },
  };
}
