import type { Connection } from 'rabbitmq-client';

type ExchangeDeclaration = Parameters<Connection['exchangeDeclare']>[0];
type QueueDeclaration = Parameters<Connection['queueDeclare']>[0] & { queue: string };
type QueueBinding = Parameters<Connection['queueBind']>[0];

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
 * The whole topology of the bridge, as data: declared on every (re)connect from this one place, so
 * that no queue is ever declared twice with different arguments.
 */
export function bridgeTopology(exchange: string, queue: string): BridgeTopology {
  const deadLetterQueue = `${queue}.dead-letter`;
  return {
    exchange: exchangeDeclaration(exchange),
    deadLetterQueue: { queue: deadLetterQueue, durable: true },
    queue: {
      queue,
      durable: true,
      // The bridge moves rejected messages to the dead-letter queue itself (to add its headers);
      // this route catches anything the broker rejects on its own, so that nothing is dropped.
      arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': deadLetterQueue },
    },
    bindings: BINDING_KEYS.map((routingKey) => ({ exchange, queue, routingKey })),
  };
}
