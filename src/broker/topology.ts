import type { Channel } from 'amqplib';

/** Declarations as data, in the shape both AMQP clients take (rabbitmq-client publishes, amqplib consumes). */
export interface ExchangeDeclaration {
  exchange: string;
  type: 'topic';
  durable: boolean;
}
export interface QueueDeclaration {
  queue: string;
  durable: boolean;
  arguments: Record<string, string | number | boolean>;
}
export interface QueueBinding {
  exchange: string;
  queue: string;
  routingKey: string;
}

/** The routing keys the bridge consumes; nothing under `client.` (its own upstream events). */
export const BINDING_KEYS = ['trip.#', 'notification.#'] as const;

/** The exchange every publisher and the bridge declare, always with these arguments. */
export function exchangeDeclaration(exchange: string): ExchangeDeclaration {
  return { exchange, type: 'topic', durable: true };
}

export interface BridgeTopology {
  exchange: ExchangeDeclaration;
  queue: QueueDeclaration;
  deadLetterQueue: QueueDeclaration;
  bindings: QueueBinding[];
}

/**
 * Deliveries without an acknowledgement after which the broker itself dead-letters a message: the
 * backstop against a message that crashes the process every time. The consumer dead-letters such a
 * message itself one delivery earlier (see REDELIVERY_LIMIT), with its own headers.
 */
export const BROKER_DELIVERY_LIMIT = 10;

/**
 * The whole topology of the bridge, as data: declared on every (re)connect from this one place, so
 * that no queue is ever declared twice with different arguments.
 *
 * Both queues are quorum queues: on this project's machine they consumed about twice as fast as
 * classic durable queues (see docs/guarantees.md, "Why quorum queues"), and only they count
 * deliveries (`x-delivery-count`) and bound them (`x-delivery-limit`).
 *
 * The bridge queue has a single active consumer: every instance subscribes, the broker delivers to
 * one at a time and hands over to the next when that one's channel closes (a crash included), with
 * its unacknowledged messages first. That keeps the queue's order for every trip across instances;
 * the socket writes, the expensive part, still spread over all of them (see docs/scaling.md).
 */
export function bridgeTopology(exchange: string, queue: string): BridgeTopology {
  const deadLetterQueue = `${queue}.dead-letter`;
  return {
    exchange: exchangeDeclaration(exchange),
    deadLetterQueue: { queue: deadLetterQueue, durable: true, arguments: { 'x-queue-type': 'quorum' } },
    queue: {
      queue,
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-single-active-consumer': true,
        'x-delivery-limit': BROKER_DELIVERY_LIMIT,
        // The bridge moves rejected messages to the dead-letter queue itself (to add its headers);
        // this route catches what the broker dead-letters on its own, so that nothing is dropped.
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': deadLetterQueue,
        // Broker-side dead-lettering confirmed by the target queue, not fire-and-forget.
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
      },
    },
    bindings: BINDING_KEYS.map((routingKey) => ({ exchange, queue, routingKey })),
  };
}

/**
 * Declares what the bridge consumes on an amqplib channel, from the same data: the dead-letter queue
 * first (the bridge queue's dead-letter route points at it), then the queue, the exchange and the
 * bindings. Run on every new consuming channel.
 */
export async function declareConsumed(ch: Channel, topology: BridgeTopology): Promise<void> {
  for (const { queue, durable, arguments: args } of [topology.deadLetterQueue, topology.queue]) {
    await ch.assertQueue(queue, { durable, arguments: args });
  }
  const { exchange, type, durable } = topology.exchange;
  await ch.assertExchange(exchange, type, { durable });
  for (const { queue, exchange: source, routingKey } of topology.bindings) await ch.bindQueue(queue, source, routingKey);
}
