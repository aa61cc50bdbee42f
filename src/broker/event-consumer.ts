import { ConsumerStatus, type AsyncMessage, type Connection, type Consumer, type Publisher } from 'rabbitmq-client';
import type { RejectionReason } from '../../contracts/index.js';
import type { Dispatcher } from '../../consumers/dispatcher.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { BridgeTopology } from './topology.js';

export interface EventConsumerOptions {
  connection: Connection;
  topology: BridgeTopology;
  prefetch: number;
  dispatcher: Dispatcher;
  metrics: Metrics;
  logger: Logger;
}

/**
 * The original bytes of a message, as far as the AMQP client kept them. Always a Buffer: the client
 * would otherwise overwrite the content type of a string (text/plain) or an object (application/json).
 */
function originalBody(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body);
  // rabbitmq-client parses `application/json` bodies; re-serializing gives the same JSON value.
  return Buffer.from(JSON.stringify(body) ?? '');
}

/**
 * Consumes the bridge queue. This is the one place that turns an outcome into ack, retry or dead
 * letter: bad input is dead-lettered at once, a failed handler is retried once (via the broker's
 * redelivery) and then dead-lettered, and a message is acknowledged only after its fan-out was
 * handed to Socket.IO or after the dead-letter queue confirmed its copy.
 */
export class EventConsumer {
  private readonly consumer: Consumer;
  private readonly deadLetters: Publisher;
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly options: EventConsumerOptions) {
    const { connection, topology, prefetch } = options;
    this.log = options.logger.child({ component: 'consumer' });
    // Dead letters travel on the consuming connection: if it is down, the message is not acked either.
    this.deadLetters = connection.createPublisher({ confirm: true, maxAttempts: 1, queues: [topology.deadLetterQueue] });
    this.consumer = connection.createConsumer(
      {
        queue: topology.queue.queue,
        queueOptions: topology.queue,
        exchanges: [topology.exchange],
        queueBindings: topology.bindings,
        qos: { prefetchCount: prefetch },
        // One message at a time keeps every trip's events in publish order.
        concurrency: 1,
        requeue: true,
        lazy: true,
      },
      (msg) => this.handle(msg),
    );
    this.consumer.on('error', (err) => {
      this.log.warn({ event: 'consumer.error', err: { message: err?.message, code: err?.code } }, 'consumer error');
    });
    this.consumer.on('ready', () => this.log.info({ event: 'consumer.ready', queue: topology.queue.queue }, 'consuming'));
  }

  /** Declares the dead-letter queue, then the rest of the topology, and starts consuming. */
  async start(): Promise<void> {
    await this.options.connection.queueDeclare(this.options.topology.deadLetterQueue);
    this.consumer.start();
  }

  /** Stops taking messages and waits for the ones in flight to be acknowledged. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.consumer.close();
    await this.deadLetters.close();
  }

  private async handle(msg: AsyncMessage): Promise<ConsumerStatus> {
    const { metrics } = this.options;
    metrics.consumed.inc();
    let outcome;
    try {
      outcome = await this.options.dispatcher.dispatch(msg.body);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      if (!msg.redelivered) {
        metrics.handlerRetries.inc();
        this.log.warn({ event: 'consumer.retry', messageId: msg.messageId, detail }, 'handler failed; requeued once');
        return ConsumerStatus.REQUEUE;
      }
      await this.deadLetter(msg, 'handler_failed', detail);
      return ConsumerStatus.ACK;
    }
    switch (outcome.kind) {
      case 'delivered':
        metrics.delivered.inc({ type: outcome.event.type });
        break;
      case 'duplicate':
        metrics.duplicates.inc();
        this.log.debug({ event: 'consumer.duplicate', eventId: outcome.eventId }, 'duplicate acknowledged');
        break;
      case 'rejected':
        await this.deadLetter(msg, outcome.reason, outcome.detail);
        break;
    }
    return ConsumerStatus.ACK;
  }

  /** Copies the message to the dead-letter queue with its reason; resolves once the broker confirmed. */
  private async deadLetter(msg: AsyncMessage, reason: RejectionReason, detail: string): Promise<void> {
    const queue = this.options.topology.deadLetterQueue.queue;
    await this.deadLetters.send(
      {
        routingKey: queue,
        durable: true,
        contentType: msg.contentType,
        contentEncoding: msg.contentEncoding,
        messageId: msg.messageId,
        timestamp: msg.timestamp,
        headers: {
          ...msg.headers,
          'x-rejection-reason': reason,
          'x-rejection-detail': detail,
          'x-original-exchange': msg.exchange,
          'x-original-routing-key': msg.routingKey,
        },
      },
      originalBody(msg.body),
    );
    this.options.metrics.deadLettered.inc({ reason });
    this.log.warn(
      { event: 'consumer.dead_lettered', reason, detail, messageId: msg.messageId, routingKey: msg.routingKey },
      'message moved to the dead-letter queue',
    );
  }
}
