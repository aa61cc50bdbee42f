import type { HistogramData } from '../lib/histogram.js';

/** The runner asks a load-client process to open its share of the sockets. */
export interface ConnectArgs {
  url: string;
  secret: string;
  /** Client indexes from..from+count: user `bench-user-<i>`, trip `bench-trip-<i % trips>`. */
  from: number;
  count: number;
  /** 0: connect only (idle); otherwise each client joins its trip and waits for the ack. */
  trips: number;
  /** Handshakes in flight at once in this process. */
  concurrency: number;
  /** How many loopback source addresses the clients spread over. */
  addressSpread: number;
  timeoutMs: number;
}

export interface ConnectResult {
  connected: number;
  failed: number;
  /** Clock (lib/clock now()) when the first handshake started and the last one finished. */
  startedAt: number;
  doneAt: number;
  /** Failure messages with their counts. */
  errors: Record<string, number>;
}

export interface CollectResult {
  histogram: HistogramData;
  /** When the step's last delivery arrived (0: none). */
  lastAt: number;
}
