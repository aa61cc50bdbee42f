import { z } from 'zod';
import {
  BRIDGE_SOURCE,
  CloudEventEnvelope,
  ConnectError,
  ErrorBody,
  RejectionReason,
  clientEventSchemas,
  eventDataSchemas,
  serverEventSchemas,
  upstreamEventData,
  MAX_EVENT_BYTES,
} from '../../contracts/index.js';
import { bridgeTopology } from '../broker/topology.js';
import { jsonSchemaOf, type JsonSchema } from './json-schema.js';
import { API_VERSION, keyOf, ref } from './shared.js';

/** Where the document says the bridge's broker and sockets are. */
export interface AsyncApiOptions {
  exchange: string;
  queue: string;
  /** `host:port` of RabbitMQ, without credentials. */
  amqpHost: string;
  /** `host:port` clients connect to. */
  socketHost: string;
  /** JWT_COOKIE_NAME. */
  cookieName: string;
}

const AMQP_BINDING = '0.3.0';
const draft7In = (schema: z.ZodType) => jsonSchemaOf(schema, { target: 'draft-7', io: 'input' });
const draft7Out = (schema: z.ZodType) => jsonSchemaOf(schema, { target: 'draft-7', io: 'output' });

/** The CloudEvents envelope of one type, with its `data`. */
const envelopeOf = (type: string, data: z.ZodType, source: z.ZodType = CloudEventEnvelope.shape.source) =>
  CloudEventEnvelope.extend({ type: z.literal(type), source, data });

/** What every ack of a client event answers: `{ ok: true, ...result }` or `{ ok: false, error }`. */
const ackOf = (result: z.ZodObject) =>
  z.union([result.extend({ ok: z.literal(true) }), z.object({ ok: z.literal(false), error: ErrorBody })]);

/**
 * The AsyncAPI 3.0 document of both sides of the bridge, from the bridge's point of view: what it
 * receives from RabbitMQ and sends back (upstream events, dead letters), and every Socket.IO event
 * both ways. Built from the zod contracts and the topology data, nothing written twice.
 */
export function asyncApiDocument(options: AsyncApiOptions): Record<string, unknown> {
  const topology = bridgeTopology(options.exchange, options.queue);
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  /** Message ids share one map across both sides: a clash would silently replace a message. */
  const addMessage = (id: string, message: Record<string, unknown>) => {
    if (Object.hasOwn(messages, id)) throw new Error(`two messages named ${id}`);
    messages[id] = message;
  };
  const rabbitmq = [ref('servers', 'rabbitmq')];
  const socketio = [ref('servers', 'socketio')];
  const exchangeBinding = {
    amqp: {
      is: 'routingKey',
      exchange: { name: topology.exchange.exchange, type: 'topic', durable: true, autoDelete: false, vhost: '/' },
      bindingVersion: AMQP_BINDING,
    },
  };

  /** One routing key of the exchange: its message, its channel, and the bridge's operation there. */
  const routingKey = (
    type: string,
    message: { summary: string; payload: JsonSchema },
    description: string,
    operation: { id: string; action: 'receive' | 'send'; summary: string; amqp: Record<string, unknown> },
  ) => {
    addMessage(type, {
      name: type,
      title: type,
      summary: message.summary,
      contentType: 'application/json',
      payload: message.payload,
      bindings: { amqp: { messageType: type, bindingVersion: AMQP_BINDING } },
    });
    channels[type] = {
      address: type,
      title: `Routing key ${type}`,
      description,
      servers: rabbitmq,
      messages: { [type]: ref('components', 'messages', type) },
      bindings: exchangeBinding,
    };
    operations[operation.id] = {
      action: operation.action,
      channel: ref('channels', type),
      summary: operation.summary,
      messages: [ref('channels', type, 'messages', type)],
      bindings: { amqp: { ...operation.amqp, bindingVersion: AMQP_BINDING } },
    };
  };

  const boundWith = topology.bindings.map((b) => `\`${b.routingKey}\``).join(' and ');
  for (const [type, data] of Object.entries(eventDataSchemas)) {
    routingKey(
      type,
      {
        summary: `A \`${type}\` event, in CloudEvents 1.0 structured form; the routing key is its type.`,
        payload: draft7In(envelopeOf(type, data)),
      },
      `Published to the topic exchange \`${topology.exchange.exchange}\`. The bridge's queue \`${topology.queue.queue}\` ` +
        `(quorum, single active consumer) is bound with ${boundWith}.`,
      {
        id: `consume.${type}`,
        action: 'receive',
        summary: `Validate a \`${type}\` event and hand it to Socket.IO; what cannot be delivered is dead-lettered.`,
        amqp: { ack: true },
      },
    );
  }
  for (const [type, data] of Object.entries(upstreamEventData)) {
    routingKey(
      type,
      {
        summary: 'What the bridge publishes when a client sends `trip:update`; its `id` is the `eventId` of the ack.',
        payload: draft7Out(envelopeOf(type, data, z.literal(BRIDGE_SOURCE))),
      },
      'Upstream, to the same exchange; the bridge never consumes it.',
      {
        id: `publish.${type}`,
        action: 'send',
        summary: 'Persistent, and confirmed by the broker before the client gets its ack.',
        amqp: { deliveryMode: 2 },
      },
    );
  }

  addMessage('dead-letter', {
    name: 'dead-letter',
    title: 'Dead letter',
    summary: 'A message the bridge could not deliver, with its original body and the reason.',
    description:
      `Bodies larger than ${MAX_EVENT_BYTES} bytes are \`too_large\`. A message the broker dead-lettered by itself ` +
      '(more deliveries than the limit) carries only `x-death`.',
    headers: draft7Out(
      z.object({
        'x-rejection-reason': RejectionReason,
        'x-rejection-detail': z.string().describe('A short human-readable cause, e.g. the failing field'),
        'x-original-exchange': z.string(),
        'x-original-routing-key': z.string(),
      }),
    ),
    payload: { description: 'The original body, byte for byte.' },
  });
  channels['dead-letters'] = {
    address: topology.deadLetterQueue.queue,
    title: 'Dead-letter queue',
    servers: rabbitmq,
    messages: { 'dead-letter': ref('components', 'messages', 'dead-letter') },
    bindings: {
      amqp: {
        is: 'queue',
        queue: { name: topology.deadLetterQueue.queue, durable: true, exclusive: false, autoDelete: false, vhost: '/' },
        bindingVersion: AMQP_BINDING,
      },
    },
  };
  operations['dead-letter'] = {
    action: 'send',
    channel: ref('channels', 'dead-letters'),
    summary: 'Move an undeliverable message to the dead-letter queue; it never blocks the queue.',
    messages: [ref('channels', 'dead-letters', 'messages', 'dead-letter')],
    bindings: { amqp: { deliveryMode: 2, bindingVersion: AMQP_BINDING } },
  };

  const socketMessages: Record<string, unknown> = {};
  const socketMessage = (id: string, name: string, summary: string, payload: JsonSchema) => {
    addMessage(id, { name, title: name, summary, payload });
    socketMessages[id] = ref('components', 'messages', id);
  };
  for (const [event, { payload, result }] of Object.entries(clientEventSchemas)) {
    const id = `socket.client.${keyOf(event)}`;
    socketMessage(id, event, `Client → server \`${event}\`.`, draft7In(payload));
    socketMessage(`${id}.ack`, `${event} ack`, `The acknowledgement of \`${event}\`.`, draft7Out(ackOf(result)));
    operations[id] = {
      action: 'receive',
      channel: ref('channels', 'socket'),
      messages: [ref('channels', 'socket', 'messages', id)],
      reply: { channel: ref('channels', 'socket'), messages: [ref('channels', 'socket', 'messages', `${id}.ack`)] },
    };
  }
  for (const [event, payload] of Object.entries(serverEventSchemas)) {
    const id = `socket.server.${keyOf(event)}`;
    socketMessage(id, event, `Server → client \`${event}\`.`, draft7Out(payload));
    operations[id] = {
      action: 'send',
      channel: ref('channels', 'socket'),
      messages: [ref('channels', 'socket', 'messages', id)],
    };
  }
  socketMessage('socket.server.connect_error', 'connect_error', 'A refused handshake.', draft7Out(ConnectError));
  operations['socket.server.connect_error'] = {
    action: 'send',
    channel: ref('channels', 'socket'),
    messages: [ref('channels', 'socket', 'messages', 'socket.server.connect_error')],
  };
  channels.socket = {
    address: '/',
    title: 'Socket.IO main namespace',
    description:
      'Each socket joins `user:<sub>` on connect and `trip:<tripId>` rooms with `trip:join`. Every client event ' +
      'takes an optional ack callback; without one, a failure comes as `request:error`.',
    servers: socketio,
    messages: socketMessages,
  };

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Group Planner realtime bridge',
      version: API_VERSION,
      description:
        'Events that backend services publish to RabbitMQ, validated and pushed to Socket.IO rooms; and the ' +
        'Socket.IO events between clients and the bridge. Generated from the zod contracts in `contracts/`.',
    },
    defaultContentType: 'application/json',
    servers: {
      rabbitmq: {
        host: options.amqpHost,
        protocol: 'amqp',
        protocolVersion: '0.9.1',
        description: 'RabbitMQ (AMQP_URL).',
      },
      socketio: {
        host: options.socketHost,
        pathname: '/socket.io/',
        protocol: 'ws',
        description:
          'Socket.IO 4 (Engine.IO 4) over WebSocket, with HTTP long-polling as a fallback. The handshake carries a ' +
          'JWT: `auth.token`, the `Authorization: Bearer` header, the `token` query parameter or the cookie ' +
          'JWT_COOKIE_NAME, in this order.',
        security: [
          ref('components', 'securitySchemes', 'bearer'),
          ref('components', 'securitySchemes', 'queryToken'),
          ref('components', 'securitySchemes', 'cookieToken'),
        ],
      },
    },
    channels,
    operations,
    components: {
      messages,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        queryToken: { type: 'httpApiKey', name: 'token', in: 'query' },
        cookieToken: { type: 'httpApiKey', name: options.cookieName, in: 'cookie' },
      },
    },
  };
}
