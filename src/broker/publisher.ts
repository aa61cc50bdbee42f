import { randomUUID } from 'node:crypto';
import { Connection, type Publisher } from 'rabbitmq-client';
import {
  issueText,
  publishableEventData,
  type EventData,
  type PublishableEventType,
} from '../../contracts/index.js';
import { exchangeDeclaration } from './topology.js';

/** The content type of every event this package publishes (structured-mode CloudEvents). */
export const CLOUDEVENTS_JSON = 'application/cloudevents+json';

export const DEFAULT_EXCHANGE = 'group-planner.events';

/** The event was refused before it left: its data does not match the contract. */
export class InvalidEventError extends Error {
  override name = 'InvalidEventError';
}

/** The broker could not take the event now (not connected, or it did not confirm). */
export class PublishUnavailableError extends Error {
  override name = 'PublishUnavailableError';
}

export interface PublishOptions {
  /** The event id (default: a random UUID). Publishing the same id twice delivers it once. */
  id?: string;
  /** ISO 8601 time of the change (default: now). */
  time?: string;
}

export interface EventPublisher {
  /**
   * Validates `data` against the contract of `type`, publishes it persistently, and resolves once
   * the broker confirmed it. Rejects with InvalidEventError, or PublishUnavailableError when the
   * broker did not take it (unreachable for longer than the connection's acquireTimeout, or a nack).
   */
  publish<T extends PublishableEventType>(type: T, data: EventData<T>, options?: PublishOptions): Promise<{ eventId: string }>;
  /** True while the connection is up. */
  readonly connected: boolean;
  /** Closes the publisher (and the connection, when the publisher opened it). Idempotent. */
  close(): Promise<void>;
}

export interface PublisherOptions {
  /**
   * An open rabbitmq-client connection to share, or an AMQP URL to open one (it then reconnects by
   * itself, and its errors go to `onError`).
   */
  connection: Connection | string;
  /** Connection errors of a connection opened from a URL (default: ignored; it keeps retrying). */
  onError?: (err: Error) => void;
  /** With a URL: how long a publish waits for the connection before it fails (default 10 s). */
  waitForConnectionMs?: number;
  /** The CloudEvents `source` of every event (e.g. `trip-service`). */
  source: string;
  exchange?: string;
}

/** A typed publisher for backend services: `publish(type, data)` with publisher confirms. */
export function createEventPublisher(options: PublisherOptions): EventPublisher {
  const owned = typeof options.connection === 'string';
  const connection =
    typeof options.connection === 'string'
      ? new Connection({ url: options.connection, acquireTimeout: options.waitForConnectionMs ?? 10_000 })
      : options.connection;
  // An 'error' event without a listener would kill the host process.
  if (owned) connection.on('error', options.onError ?? (() => undefined));
  const exchange = options.exchange ?? DEFAULT_EXCHANGE;
  const publisher: Publisher = connection.createPublisher({
    confirm: true,
    maxAttempts: 1,
    exchanges: [exchangeDeclaration(exchange)],
  });
  let closed = false;

  return {
    get connected() {
      return connection.ready;
    },
    async publish(type, data, publishOptions = {}) {
      const schema = publishableEventData[type];
      if (!schema) throw new InvalidEventError(`unknown event type ${String(type)}`);
      const parsed = schema.safeParse(data);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new InvalidEventError(`${type}: ${issue ? issueText(issue, 'data') : 'data: invalid'}`);
      }
      if (closed) throw new PublishUnavailableError('publisher closed');
      const id = publishOptions.id ?? randomUUID();
      const event = {
        specversion: '1.0',
        id,
        source: options.source,
        type,
        time: publishOptions.time ?? new Date().toISOString(),
        datacontenttype: 'application/json',
        data: parsed.data,
      };
      // While the connection is down, send() waits for it up to the connection's acquireTimeout.
      try {
        await publisher.send(
          { exchange, routingKey: type, durable: true, messageId: id, contentType: CLOUDEVENTS_JSON },
          Buffer.from(JSON.stringify(event)),
        );
      } catch (err) {
        throw new PublishUnavailableError(`broker did not confirm: ${(err as Error).message}`);
      }
      return { eventId: id };
    },
    async close() {
      if (closed) return;
      closed = true;
      await publisher.close();
      if (owned) await connection.close();
    },
  };
}
