import { Connection } from 'rabbitmq-client';
import { bridgeTopology } from '../../src/broker/topology.js';

/** A queue and exchange name of this run only: the broker is shared, so nothing else is touched. */
export function runScopedName(runId: string, system: string): string {
  return `bench.${runId}.${system}`;
}

/**
 * The runner's own AMQP connection: declares a system's topology (the bridge's, from its one
 * source of truth, so the naive forwarder consumes the same kind of queue), reads queue depth, and
 * deletes exactly what it declared.
 */
export class BenchBroker {
  private readonly connection: Connection;
  private readonly declared: Array<{ exchange: string; queue: string }> = [];
  /** Every name this runner declared, kept after deletion for the report (and the smoke test's check). */
  readonly history = { queues: [] as string[], exchanges: [] as string[] };

  constructor(readonly url: string) {
    this.connection = new Connection({ url, retryLow: 100, retryHigh: 1000, connectionName: 'bench-runner' });
    this.connection.on('error', () => undefined);
  }

  private closing = false;

  async declareTopology(exchange: string, queue: string): Promise<void> {
    // After clean-up began (Ctrl-C, the watchdog), nothing new may be declared: it would be left behind.
    if (this.closing) throw new Error('the run is stopping');
    const topology = bridgeTopology(exchange, queue);
    this.declared.push({ exchange, queue });
    this.history.queues.push(queue, topology.deadLetterQueue.queue);
    this.history.exchanges.push(exchange);
    await this.connection.exchangeDeclare(topology.exchange);
    await this.connection.queueDeclare(topology.deadLetterQueue);
    await this.connection.queueDeclare(topology.queue);
    for (const binding of topology.bindings) await this.connection.queueBind(binding);
  }

  /** Messages ready in the queue (not counting those delivered and not yet acknowledged). */
  async depth(queue: string): Promise<number> {
    return (await this.connection.queueDeclare({ queue, passive: true })).messageCount;
  }

  /** True while the queue exists (for the smoke test's clean-up check). */
  async exists(queue: string): Promise<boolean> {
    try {
      await this.connection.queueDeclare({ queue, passive: true });
      return true;
    } catch {
      return false;
    }
  }

  /** Deletes every queue and exchange this runner declared, ignoring those already gone; declares no more. */
  async deleteDeclared(): Promise<void> {
    this.closing = true;
    for (const { exchange, queue } of this.declared.splice(0)) {
      for (const name of [queue, `${queue}.dead-letter`]) await this.connection.queueDelete({ queue: name }).catch(() => undefined);
      await this.connection.exchangeDelete({ exchange }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
