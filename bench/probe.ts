import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { Connection } from 'rabbitmq-client';

/**
 * A probe preloaded into a benchmark server (`--import <dist>/bench/probe.js?dir=/tmp/probe`): every
 * 250 ms it appends one JSON line to `<dir>/<system>-<pid>.jsonl` with the process's CPU (% of a
 * core), event-loop utilization (busy share of wall time, descheduled time included) and delay
 * (p50/p99/max ms), garbage-collection pauses, the depth of its queue read from the broker, and, for
 * the bridge, what its own metrics say over the interval (events consumed, delivery lag, handler
 * time). While a file `<dir>/PROFILE` exists it records a CPU profile (`<dir>/HEAP` too: an
 * allocation profile instead), written when the file is removed. Where the time goes, window by
 * window: see bench/results/profiles/README.md. It changes nothing in the server it watches but
 * the cost of its own sampling.
 */
const dir = new URL(import.meta.url).searchParams.get('dir') ?? '/tmp/bridge-probe';
const queue = process.env.AMQP_QUEUE ?? process.env.BENCH_QUEUE;
const system = queue?.split('.').pop() ?? (process.env.BENCH_SECRET ? 'server' : undefined);

if (system) {
  mkdirSync(dir, { recursive: true });
  const out = join(dir, `${system}-${process.pid}.jsonl`);
  const url = process.env.AMQP_URL ?? process.env.BENCH_AMQP_URL;
  const broker = url && queue ? new Connection({ url, connectionName: 'bench-probe' }) : undefined;
  broker?.on('error', () => undefined);
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  let pauses: number[] = [];
  new PerformanceObserver((list) => pauses.push(...list.getEntries().map((e) => e.duration))).observe({ entryTypes: ['gc'] });
  let cpu = process.cpuUsage();
  let elu = performance.eventLoopUtilization();
  let at = performance.now();
  let before: Record<string, number> | undefined;

  const sum = (text: string, name: string) =>
    text
      .split('\n')
      .filter((line) => line.startsWith(name))
      .reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  const bridgeMetrics = async (): Promise<Record<string, number> | undefined> => {
    if (!process.env.PORT || !process.env.AMQP_QUEUE) return undefined;
    const text = await (await fetch(`http://127.0.0.1:${process.env.PORT}/metrics`)).text();
    return {
      consumed: sum(text, 'bridge_events_consumed_total'),
      lagSum: sum(text, 'bridge_delivery_lag_seconds_sum'),
      lagCount: sum(text, 'bridge_delivery_lag_seconds_count'),
      handlerSum: sum(text, 'bridge_handler_duration_seconds_sum'),
      handlerCount: sum(text, 'bridge_handler_duration_seconds_count'),
    };
  };

  setInterval(async () => {
    const now = performance.now();
    const used = process.cpuUsage(cpu);
    const loop = performance.eventLoopUtilization(elu);
    const row: Record<string, unknown> = {
      t: Date.now(),
      cpu: Math.round((used.user + used.system) / 10 / (now - at)),
      elu: Number(loop.utilization.toFixed(2)),
      delayP50: Number((delay.percentile(50) / 1e6).toFixed(1)),
      delayP99: Number((delay.percentile(99) / 1e6).toFixed(1)),
      delayMax: Number((delay.max / 1e6).toFixed(1)),
      gcMs: Number(pauses.reduce((a, b) => a + b, 0).toFixed(1)),
      gcMaxMs: Number(Math.max(0, ...pauses).toFixed(1)),
    };
    [cpu, elu, at, pauses] = [process.cpuUsage(), performance.eventLoopUtilization(), now, []];
    delay.reset();
    if (broker && queue) row.ready = await broker.queueDeclare({ queue, passive: true }).then((q) => q.messageCount, () => undefined);
    const after = await bridgeMetrics().catch(() => undefined);
    if (after && before) {
      const n = (key: string) => (after[key] ?? 0) - (before?.[key] ?? 0);
      row.consumed = n('consumed');
      row.lagMs = Number(((n('lagSum') / Math.max(1, n('lagCount'))) * 1000).toFixed(1));
      row.handlerMs = Number(((n('handlerSum') / Math.max(1, n('handlerCount'))) * 1000).toFixed(3));
    }
    before = after;
    appendFileSync(out, `${JSON.stringify(row)}\n`);
  }, 250).unref();

  const session = new Session();
  session.connect();
  let recording: 'cpu' | 'heap' | undefined;
  setInterval(() => {
    const wanted = existsSync(join(dir, 'PROFILE'));
    if (wanted && !recording) {
      recording = existsSync(join(dir, 'HEAP')) ? 'heap' : 'cpu';
      if (recording === 'heap') {
        const options = { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true };
        session.post('HeapProfiler.enable', () => session.post('HeapProfiler.startSampling', options));
      } else session.post('Profiler.enable', () => session.post('Profiler.setSamplingInterval', { interval: 200 }, () => session.post('Profiler.start')));
    } else if (!wanted && recording) {
      const kind = recording;
      recording = undefined;
      const file = join(dir, `${system}-${process.pid}.${kind === 'heap' ? 'heapprofile' : 'cpuprofile'}`);
      const save = (_err: Error | null, result?: { profile: unknown }) => writeFileSync(file, JSON.stringify(result?.profile ?? {}));
      if (kind === 'heap') session.post('HeapProfiler.stopSampling', save);
      else session.post('Profiler.stop', save);
    }
  }, 50).unref();
}
